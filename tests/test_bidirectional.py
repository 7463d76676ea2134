"""The bidirectional page's computations, each against an independent reference (torch
modules, numpy), and its fill-in-the-blank examples against the claim the page makes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rnnviz.content import text
from rnnviz.core.trace import trace_module
from rnnviz.errors import RnnVizError
from rnnviz.i18n import LANGUAGES
from rnnviz.lessons.bidirectional import (
    BLANK_MARKS,
    READERS,
    blank_index,
    blank_mark,
    concat_directions,
    concat_matches_module,
    context_split,
    direction_weight_difference,
    fill_blank_examples,
    forward_backward,
    is_blank,
    layer_param_counts,
    max_spread,
    readers,
    sentence_tokens,
    shared_left_context,
    state_norms,
    states_at_blank,
    token_ids,
)
from rnnviz.lessons.gating import demo_network, views_from_trace
from rnnviz.plots.bidirectional import bidirectional_diagram

TEXT = "央行宣布下调存款准备金率"


def test_concatenation_equals_bidirectional_module_output() -> None:
    torch.manual_seed(0)
    for cls in (nn.LSTM, nn.GRU):
        module = cls(6, 5, batch_first=True, bidirectional=True).eval()
        x = torch.randn(1, 11, 6)
        with torch.no_grad():
            expected, _ = module(x)
            views = views_from_trace(trace_module(module, x), [str(t) for t in range(11)])
        concat = concat_directions(views)
        assert concat.shape == (11, 10)
        np.testing.assert_allclose(concat, expected[0].numpy(), atol=1e-6)
        fwd, bwd = forward_backward(views)
        # The backward state at t = 1 has read the whole sequence; the forward one only x_1.
        np.testing.assert_allclose(bwd[0], expected[0, 0, 5:].numpy(), atol=1e-6)
        with torch.no_grad():
            first, _ = module(x[:, :1])
        np.testing.assert_allclose(fwd[0], first[0, 0, :5].numpy(), atol=1e-6)
    assert concat_matches_module(demo_network("lstm", bidirectional=True), TEXT) < 1e-5


def test_direction_weights_are_separate_parameters_named_in_the_course_notation() -> None:
    torch.manual_seed(0)
    rnn = nn.LSTM(4, 3, bidirectional=True)
    rows = {r["parameter (PyTorch name)"]: r for r in direction_weight_difference(rnn, lang="en")}
    W, W_rev = rnn.weight_hh_l0.detach(), rnn.weight_hh_l0_reverse.detach()
    diff = float(torch.sqrt(((W - W_rev) ** 2).sum()))
    assert rows["weight_hh_l0"]["‖fwd − bwd‖_F"] == round(diff, 4)
    assert rows["weight_hh_l0"]["‖fwd‖_F"] == round(float(torch.sqrt((W**2).sum())), 4)
    assert rows["weight_hh_l0"]["shape"] == "12×3"
    assert rows["weight_hh_l0"]["‖fwd − bwd‖_F"] > 0
    # The legend: weight_ih is U (input -> hidden), weight_hh is W (hidden -> hidden).
    assert rows["weight_ih_l0"]["course symbol"].startswith("U→")
    assert rows["weight_hh_l0"]["course symbol"].startswith("W→")
    with torch.no_grad():  # tie them: the difference must then read 0
        rnn.weight_hh_l0_reverse.copy_(rnn.weight_hh_l0)
    tied = {r["parameter (PyTorch name)"]: r for r in direction_weight_difference(rnn, lang="en")}
    assert tied["weight_hh_l0"]["‖fwd − bwd‖_F"] == 0
    with pytest.raises(RnnVizError):
        direction_weight_difference(nn.LSTM(4, 3))


@pytest.mark.parametrize(("cls", "gates"), [(nn.LSTM, 4), (nn.GRU, 3), (nn.RNN, 1)])
def test_layer_param_counts_match_the_module(cls: type, gates: int) -> None:
    rnn = cls(7, 5, num_layers=2, bidirectional=True)
    counts = layer_param_counts(rnn, 0)
    reverse = sum(p.numel() for n, p in rnn.named_parameters() if n.endswith("_l0_reverse"))
    assert counts["backward"] == reverse == counts["forward"]
    assert counts["layer"] == 2 * counts["forward"]
    assert counts["module"] == sum(p.numel() for p in rnn.parameters())
    assert counts["gates"] == gates and counts["inputs"] == 7
    # One direction alone, as its own module: the closed form and the count agree.
    assert counts["formula"] == counts["forward"] == sum(p.numel() for p in cls(7, 5).parameters())
    upper = layer_param_counts(rnn, 1)  # layer 1 reads [h→; h←]: 2H inputs
    assert upper["inputs"] == 10
    assert upper["forward"] == sum(p.numel() for p in cls(10, 5).parameters())
    with pytest.raises(RnnVizError):
        layer_param_counts(rnn, 2)


def test_state_norms_match_torch() -> None:
    s = np.random.default_rng(2).normal(size=(6, 4))
    expected = torch.linalg.norm(torch.from_numpy(s), dim=1).numpy()
    np.testing.assert_allclose(state_norms(s), expected)


def test_a_blank_run_is_one_token_drawn_the_same_on_both_sides() -> None:
    tokens = sentence_tokens("我去＿＿看病")
    assert tokens == ["我", "去", "＿＿", "看", "病"]
    t = blank_index(tokens)
    assert t == 2
    left, right = context_split(tokens, t)
    assert left == "我去＿＿" and right == "＿＿看病"  # not "我去＿" on one side
    with pytest.raises(RnnVizError):
        context_split(tokens, 99)
    with pytest.raises(RnnVizError, match="blank"):
        blank_index(list("没有空"))
    words = sentence_tokens("I went to the ___ to see a doctor.")
    assert words[4] == "___" and blank_index(words) == 4
    assert context_split(words, 4) == ("I went to the ___", "___ to see a doctor.")


def test_readers_follow_the_reading_spans() -> None:
    assert readers(5, 2, 4) == "backward" and readers(5, 2, 0) == "forward"
    assert readers(5, 2, 2) == "both"
    assert set(READERS) >= {"forward", "backward", "both"}
    for at in range(5):  # the same answer as context_split's two spans
        for pos in range(5):
            left, right = context_split(list("abcde"), at)
            ch = "abcde"[pos]
            expected = {(True, True): "both", (True, False): "forward",
                        (False, True): "backward"}[(ch in left, ch in right)]
            assert readers(5, at, pos) == expected
    with pytest.raises(RnnVizError):
        readers(5, 5, 0)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_example_draws_its_blank_the_same_way_everywhere(lang: str) -> None:
    mark = blank_mark(lang)
    assert mark and is_blank(mark)
    examples = fill_blank_examples(lang)
    assert len(examples) >= 3
    for e in examples:
        assert e.sentence.count(mark) == 1, e.sentence
        # no other blank marks anywhere in the sentence
        assert sum(e.sentence.count(m) for m in BLANK_MARKS) == len(mark), e.sentence
        tokens = e.tokens
        assert [tok for tok in tokens if is_blank(tok)] == [mark]
        left, right = context_split(tokens, e.blank)
        assert left.endswith(mark) and right.startswith(mark)
        assert left.count(mark) == right.count(mark) == 1
        diagram = bidirectional_diagram(tokens, lang, highlight=e.blank)
        name = text(lang, "plots/bidirectional", "input")
        inputs = next(t for t in diagram.data if t.name == name)
        assert inputs.text[e.blank] == mark


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_left_context_leaves_the_blank_open_and_the_right_decides(lang: str) -> None:
    examples = fill_blank_examples(lang)
    # The same left side (up to the blank) in every example ...
    left = shared_left_context(examples)
    assert left is not None
    # ... with a different answer each time: the left side alone cannot decide.
    answers = [e.answer for e in examples]
    assert len(set(answers)) == len(answers)
    for e in examples:
        assert e.answer not in e.sentence  # the blank hides it
        # The clue that decides it lies right of the blank, and only there.
        assert e.clue_index > e.blank
        assert e.clue not in left
        assert readers(len(e.tokens), e.blank, e.clue_index) == "backward"
        # Another example's clue is not in this sentence: each right side points one way.
        assert not any(o.clue in e.sentence for o in examples if o is not e)


def test_both_languages_hold_the_same_examples() -> None:
    zh, en = fill_blank_examples("zh"), fill_blank_examples("en")
    assert len(zh) == len(en)
    for a, b in zip(zh, en, strict=True):  # the clue sits right of the blank in both
        assert a.clue_index > a.blank and b.clue_index > b.blank


def test_forward_states_at_a_shared_prefix_are_equal_and_backward_ones_differ() -> None:
    network = demo_network("lstm", bidirectional=True)
    for lang in LANGUAGES:
        examples = fill_blank_examples(lang)
        fwd, bwd = states_at_blank(network, examples)
        assert fwd.shape == bwd.shape == (len(examples), network.rnn.hidden_size)
        assert max_spread(fwd) < 1e-6
        assert max_spread(bwd) > 1e-3
        # Against the module run on the prefix alone: the forward state is the same.
        e = examples[0]
        with torch.no_grad():
            prefix, _ = network.rnn(network.embedding(token_ids(e.tokens[: e.blank + 1])))
        np.testing.assert_allclose(fwd[0], prefix[0, -1, :network.rnn.hidden_size].numpy(),
                                   atol=1e-6)
    with pytest.raises(RnnVizError):
        states_at_blank(demo_network("lstm"), fill_blank_examples("zh"))


def test_token_ids_are_stable_per_token() -> None:
    a = token_ids(["我", "＿＿", "hospital", "我"])
    assert a.shape == (1, 4) and a[0, 0] == a[0, 3] == ord("我") % 4096
    assert torch.equal(a, token_ids(["我", "＿＿", "hospital", "我"]))
    assert a[0, 1] != a[0, 2]


def test_max_spread() -> None:
    s = np.array([[0.0, 1.0], [0.5, 1.0], [0.2, 3.0]])
    assert max_spread(s) == 2.0
    assert max_spread(np.ones((3, 4))) == 0.0
