"""The padding lesson's numbers (rnnviz/lessons/padding.py): rows laid out post, pre and packed;
what out[:, -1] and h_n hold, checked against a plain step-by-step re-implementation of the
GRU and LSTM on the same weights; what each state has read; the three-way training run and
the stored JSON the page reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from rnnviz.core.config import ModelConfig
from rnnviz.core.models import build_model
from rnnviz.core.text import PAD_ID
from rnnviz.errors import RnnVizError
from rnnviz.lessons import padding as pd

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


# ---- a plain re-implementation: one step at a time, PyTorch's equations, no nn.GRU/nn.LSTM ----


def _step(kind: str, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None,
          w_ih: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor, b_hh: torch.Tensor):
    gi, gh = w_ih @ x + b_ih, w_hh @ h + b_hh
    if kind == "gru":  # torch.nn.GRU: r, z, n; h' = (1 - z) n + z h
        H = h.shape[0]
        r = torch.sigmoid(gi[:H] + gh[:H])
        z = torch.sigmoid(gi[H:2 * H] + gh[H:2 * H])
        n = torch.tanh(gi[2 * H:] + r * gh[2 * H:])
        return (1 - z) * n + z * h, None
    i, f, g, o = (gi + gh).chunk(4)  # torch.nn.LSTM: i, f, g, o
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _reference_out(rnn: nn.RNNBase, x: torch.Tensor) -> torch.Tensor:
    """(T, E) -> (T, D*H): the top layer's output at every position, by explicit loops."""
    kind = "gru" if isinstance(rnn, nn.GRU) else "lstm"
    D, H = (2 if rnn.bidirectional else 1), rnn.hidden_size
    inputs = x
    for layer in range(rnn.num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w = [getattr(rnn, f"{n}{sfx}") for n in ("weight_ih", "weight_hh", "bias_ih",
                                                    "bias_hh")]
            h, c = torch.zeros(H), torch.zeros(H)
            steps = range(len(inputs) - 1, -1, -1) if d else range(len(inputs))
            out = [None] * len(inputs)
            for t in steps:
                h, c = _step(kind, inputs[t], h, c, *w)
                out[t] = h
            outs.append(torch.stack(out))
        inputs = torch.cat(outs, dim=-1)
    return inputs


@pytest.fixture(params=[("gru", 1, False), ("gru", 2, True), ("lstm", 1, True),
                        ("lstm", 2, True)], ids=lambda p: f"{p[0]}-{p[1]}layer-bi{p[2]}")
def rnn(request) -> nn.RNNBase:
    kind, layers, bi = request.param
    torch.manual_seed(1)
    module = (nn.GRU if kind == "gru" else nn.LSTM)(5, 4, num_layers=layers, batch_first=True,
                                                     bidirectional=bi)
    return module.eval()


def test_out_last_and_h_n_equal_a_step_by_step_reimplementation(rnn: nn.RNNBase) -> None:
    torch.manual_seed(2)
    table = torch.randn(20, 5)
    table[PAD_ID] = 0.0  # the PAD row of an embedding with padding_idx
    titles = [[3, 4, 5], [6, 7, 8, 9, 10, 11], [12]]
    L, H = 8, rnn.hidden_size
    with torch.no_grad():
        for scheme in pd.SCHEMES:
            rows, lengths = pd.arrange(titles, L, scheme)
            got = pd.read_last(rnn, table[rows], lengths, scheme)
            for b, title in enumerate(titles):
                if scheme == "packed":
                    ref = _reference_out(rnn, table[torch.tensor(title)])
                    # forward: after the last token; backward: after the first
                    want = torch.cat([ref[-1, :H], ref[0, H:]]) if rnn.bidirectional else ref[-1]
                else:
                    want = _reference_out(rnn, table[rows[b]])[-1]  # out[:, -1] of the row
                torch.testing.assert_close(got[b], want, rtol=1e-5, atol=1e-6)


def test_post_padding_backward_half_depends_on_no_title_token_in_one_layer() -> None:
    torch.manual_seed(3)
    rnn = nn.GRU(5, 4, batch_first=True, bidirectional=True).eval()
    table = torch.randn(20, 5)
    table[PAD_ID] = 0.0
    with torch.no_grad():
        rows, lengths = pd.arrange([[3, 4, 5], [9, 8, 7, 6]], 8, "post")
        got = pd.read_last(rnn, table[rows], lengths, "post")
    torch.testing.assert_close(got[0, 4:], got[1, 4:])  # the same PAD, whatever the title
    assert not torch.allclose(got[0, :4], got[1, :4])


def test_arrange_lays_out_post_pre_and_cuts_long_titles() -> None:
    rows, lengths = pd.arrange([[5, 6], [7, 8, 9, 10, 11]], 4, "post")
    assert rows.tolist() == [[5, 6, 0, 0], [7, 8, 9, 10]] and lengths.tolist() == [2, 4]
    rows, _ = pd.arrange([[5, 6], [7, 8, 9, 10, 11]], 4, "pre")
    assert rows.tolist() == [[0, 0, 5, 6], [7, 8, 9, 10]]
    rows, _ = pd.arrange([[5, 6]], 4, "packed")
    assert rows.tolist() == [[5, 6, 0, 0]]


@pytest.mark.parametrize(("args", "match"), [
    (([[1]], 4, "middle"), "unknown padding scheme"),
    (([[1]], 0, "post"), "whole number from 1"),
    (([[1]], 4.5, "post"), "whole number from 1"),
    (([[1], []], 4, "post"), "title 2: a title with no tokens"),
    (([], 4, "post"), "no titles"),
])
def test_arrange_refuses_bad_input(args: tuple, match: str) -> None:
    with pytest.raises(RnnVizError, match=match):
        pd.arrange(*args)


def test_what_each_state_has_read() -> None:
    P = None
    assert pd.last_reads(3, 6, "post", "forward") == [0, 1, 2, P, P, P]
    assert pd.last_reads(3, 6, "post", "backward") == [P]  # only padding
    assert pd.last_reads(3, 6, "pre", "forward") == [P, P, P, 0, 1, 2]
    assert pd.last_reads(3, 6, "pre", "backward") == [2]  # only the last character
    assert pd.last_reads(3, 6, "packed", "forward") == [0, 1, 2]
    assert pd.last_reads(3, 6, "packed", "backward") == [2, 1, 0]
    assert pd.last_reads(8, 6, "post", "backward") == [5]  # cut, no padding: the last kept
    assert pd.last_reads(8, 6, "post", "forward") == list(range(6))
    with pytest.raises(RnnVizError, match="direction"):
        pd.last_reads(3, 6, "post", "sideways")


def test_describe_reads_shortens_runs() -> None:
    tokens = list("一二三四五六七八九十")
    assert pd.describe_reads(tokens, [0, 1, 2, None, None], "en") == "一二三 PAD×2"
    assert pd.describe_reads(tokens, list(range(10)), "en", edge=2) == "一二…九十"
    assert pd.describe_reads(tokens, [None], "zh") == "PAD×1"


# ---- one title through a classifier --------------------------------------------------------


def _classifier(cell: str = "gru", bidirectional: bool = False, pooling: str = "last",
                layers: int = 2) -> nn.Module:
    torch.manual_seed(4)
    config = ModelConfig(vocab_size=30, num_classes=3, cell=cell, embed_dim=6, hidden_size=5,
                         num_layers=layers, bidirectional=bidirectional, pooling=pooling,
                         fc_hidden=7, bigram_dim=0)
    return build_model(config).eval()


def test_padding_view_of_a_last_step_classifier_matches_the_model_itself() -> None:
    model = _classifier()
    ids = [3, 4, 5, 6, 7]
    view = pd.padding_view(model, ids, list("abcde"), length=9)
    assert (view.n, view.pads, view.directions, view.cut) == (5, 4, 1, False)
    with torch.no_grad():
        logits = model(torch.tensor([ids]), torch.tensor([5]))
        for scheme in pd.SCHEMES:
            rows, lengths = pd.arrange([ids], 9, scheme)
            want = pd.read_last(model.rnn, model.embed(rows), lengths, scheme)[0].numpy()
            np.testing.assert_allclose(view.final[scheme], want, rtol=1e-6)
    # Packed is the model's own answer (its forward pass packs).
    np.testing.assert_allclose(view.probabilities["packed"], torch.softmax(logits[0], -1),
                               rtol=1e-5)
    assert view.similarity("packed") == pytest.approx(1.0)
    # The drift curve at the title's own padding is the post-padded read.
    assert view.drift["post"]["both"][view.pads] == pytest.approx(view.similarity("post"),
                                                                  abs=1e-5)
    assert view.drift["pre"]["both"][view.pads] == pytest.approx(view.similarity("pre"),
                                                                 abs=1e-5)
    assert view.drift["post"]["forward"][0] == pytest.approx(1.0, abs=1e-6)  # no padding yet
    assert len(view.drift["post"]["both"]) == 9 + 1
    assert view.norms["post"].shape == (9, 1) and view.norms["packed"].shape == (5, 1)


def test_padding_view_drift_equals_reading_each_padded_row_on_its_own() -> None:
    model = _classifier(cell="lstm", bidirectional=True, pooling="max")
    ids = [3, 9, 5]
    view = pd.padding_view(model, ids, list("abc"), length=6, max_pads=4)
    assert view.probabilities is None  # max pooling: no last-step answer to compare
    H = 5
    with torch.no_grad():
        for scheme in ("post", "pre"):
            for k in range(5):
                rows, lengths = pd.arrange([ids], 3 + k, scheme)
                v = pd.read_last(model.rnn, model.embed(rows), lengths, scheme)[0].numpy()
                back = pd.cosine(v[H:], view.final["packed"][H:])
                assert view.drift[scheme]["backward"][k] == pytest.approx(back, abs=1e-5)
                assert view.drift[scheme]["both"][k] == pytest.approx(
                    pd.cosine(v, view.final["packed"]), abs=1e-5)


def test_padding_view_refuses_an_empty_title_and_cuts_a_long_one() -> None:
    model = _classifier()
    with pytest.raises(RnnVizError, match="no tokens"):
        pd.padding_view(model, [], [], 8)
    view = pd.padding_view(model, list(range(2, 14)), list("abcdefghijkl"), length=8)
    assert view.cut and view.n == 8 and view.pads == 0
    np.testing.assert_allclose(view.final["post"], view.final["pre"], rtol=1e-6)


def test_reads_rows_count_title_tokens_and_padding() -> None:
    model = _classifier(bidirectional=True, layers=1)
    view = pd.padding_view(model, [3, 4, 5], list("abc"), length=5)
    rows = pd.reads_rows(view, "en")
    assert len(rows) == 6
    post_backward = rows[1]
    assert post_backward["title tokens read"] == 0 and post_backward["PAD steps read"] == 1
    assert rows[0]["PAD steps read"] == 2 and rows[-1]["title tokens read"] == 3
    assert rows[-1]["cosine to the packed state"] == pytest.approx(1.0)
    answers = pd.answer_rows(view, ["x", "y", "z"], "en")
    assert [r["padding"] for r in answers] == ["post-padding · out[:, -1]",
                                               "pre-padding · out[:, -1]", "packed · h_n"]


def test_similarity_band() -> None:
    assert [pd.similarity_band(v) for v in (0.95, 0.9, 0.5, 0.49)] == ["high", "mid", "mid",
                                                                        "low"]


# ---- the same small model trained three ways ----------------------------------------------


def _tiny_data(n: int, seed: int) -> tuple[list[str], list[int]]:
    """Class = which of two characters the title starts with; titles of 2-7 characters."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(2))
        body = "".join(rng.choice(list("abcdef"), size=int(rng.integers(1, 7))))
        texts.append("XY"[label] + body)
        labels.append(label)
    return texts, labels


def test_the_three_runs_share_initial_weights_and_are_repeatable() -> None:
    recipe = pd.Recipe(embed_dim=4, hidden_size=4, epochs=2, batch_size=16, pad_to=8, lr=0.01)
    models = []
    for scheme in pd.SCHEMES:
        torch.manual_seed(recipe.seed)
        models.append(pd.PaddedClassifier(recipe, 12, 2, scheme).state_dict())
    for other in models[1:]:
        assert all(torch.equal(models[0][k], other[k]) for k in models[0])
    train, dev = _tiny_data(96, 0), _tiny_data(40, 1)
    one = pd.compare_schemes(recipe, *train, *dev, num_classes=2)
    two = pd.compare_schemes(recipe, *train, *dev, num_classes=2)
    assert [r["history"] for r in one["runs"].values()] == [
        r["history"] for r in two["runs"].values()]
    assert one["data"]["train"] == 96 and one["data"]["dev"] == 40
    stored = pd.parse_results(json.loads(json.dumps(one)))
    assert stored.accuracy == {s: r["dev_accuracy"] for s, r in one["runs"].items()}
    assert stored.lowest() == min(pd.SCHEMES, key=stored.accuracy.__getitem__)
    assert stored.cost("packed") == 0.0


def test_packed_training_learns_a_label_set_by_the_first_character() -> None:
    # The label is the first character: the packed backward state ends right on it.
    recipe = pd.Recipe(cell="gru", embed_dim=8, hidden_size=8, epochs=8, batch_size=16,
                       pad_to=10, lr=0.02)
    train, dev = _tiny_data(256, 0), _tiny_data(100, 1)
    result = pd.compare_schemes(recipe, *train, *dev, num_classes=2)
    assert result["runs"]["packed"]["dev_accuracy"] > 0.9


def test_recipe_and_results_refuse_bad_values(tmp_path: Path) -> None:
    with pytest.raises(RnnVizError, match="hidden_size"):
        pd.Recipe(hidden_size=0)
    with pytest.raises(RnnVizError, match="unknown cell"):
        pd.Recipe(cell="tcn")
    with pytest.raises(RnnVizError, match="lr"):
        pd.Recipe(lr=float("nan"))
    with pytest.raises(RnnVizError, match="not a padding benchmark result"):
        pd.parse_results({"version": 1, "recipe": {}, "runs": {}})
    good = {"version": 1, "recipe": {}, "data": {"train": 1, "dev": 1, "vocab": 3,
                                                 "dev_mean_length": 2.0,
                                                 "dev_share_padded": 1.0},
            "runs": {s: {"dev_accuracy": 0.5, "history": [0.5]} for s in pd.SCHEMES}}
    assert pd.parse_results(good).accuracy["post"] == 0.5
    good["runs"]["post"]["dev_accuracy"] = 1.5
    with pytest.raises(RnnVizError, match="outside"):
        pd.parse_results(good)
    assert pd.load_results(tmp_path / "absent.json") is None
    bad = tmp_path / "padding.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(RnnVizError, match="padding.json: not valid JSON"):
        pd.load_results(bad)


def test_the_stored_measurement_reads() -> None:
    if not pd.RESULTS_FILE.is_file():
        pytest.fail(f"{pd.RESULTS_FILE} is missing: run bench/padding.py")
    stored = pd.load_results()
    assert stored is not None and stored.dev_examples > 0
    assert set(stored.accuracy) == set(pd.SCHEMES)
    for scheme in pd.SCHEMES:
        assert max(stored.history[scheme]) == stored.accuracy[scheme]
