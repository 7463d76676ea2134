"""Memory networks against an LSTM (rnnviz.lessons.memnet): the story world and its tokeniser,
the generator checked by an independent rule reader, the memory network checked against a
plain numpy loop over the paper's equations, the LSTM's padding against unpadded runs, and a
seeded training run reaching what the page shows."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

from rnnviz.content import load
from rnnviz.errors import RnnVizError
from rnnviz.lessons.memnet import (
    EOS,
    KINDS,
    QMARK,
    SPECIALS,
    MemN2N,
    MemNetConfig,
    MemNetProgress,
    MemNetResult,
    Story,
    World,
    accuracy_falls,
    answer_story,
    build_models,
    build_vocab,
    chance,
    encode,
    example_stories,
    generate_story,
    heldout_stories,
    near_chance,
    parse_story,
    position_encoding,
    solve,
    split_story,
    summary_rows,
    train_comparison,
    train_job,
)
from rnnviz.plots.memnet import attention_figure, curves_figure, sweep_figure

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")

ZH, EN = World.load("zh"), World.load("en")
VOCAB = {"zh": build_vocab(ZH), "en": build_vocab(EN)}
WORLDS = {"zh": ZH, "en": EN}


# ---- the world and the tokeniser ------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_vocabulary_is_built_from_the_templates(lang: str) -> None:
    world, vocab = WORLDS[lang], VOCAB[lang]
    assert vocab.words[:3] == SPECIALS and len(set(vocab.words)) == len(vocab.words)
    for name in (*world.people, *world.places, *world.things):
        assert name.lower() in vocab
    raw = load("lessons/memnet", lang).sections["template.move"]
    literal = raw.replace("{{person}}", " ").replace("{{place}}", " ")
    for piece in literal.replace("。", " ").replace(".", " ").split():
        assert piece.lower() in vocab, piece  # every literal word of a template is a word


def test_chinese_is_cut_into_the_longest_known_words_and_unknown_pieces_are_named() -> None:
    vocab = VOCAB["zh"]
    assert vocab.tokenize("小明去了厨房。") == (["小明", "去了", "厨房"], [])
    assert vocab.tokenize("小红走进了办公室") == (["小红", "走进了", "办公室"], [])
    assert vocab.tokenize("小明去了学校，小红很开心") == (["小明", "去了", "小红"],
                                                     ["学校", "很开心"])


def test_english_words_must_match_whole_and_case_and_width_do_not_matter() -> None:
    vocab = VOCAB["en"]
    assert vocab.tokenize("MARY went to the Ｋｉｔｃｈｅｎ!") == (
        ["mary", "went", "to", "the", "kitchen"], [])
    assert vocab.tokenize("Mary went to the kitchens")[1] == ["kitchens"]


def test_a_broken_content_edit_names_its_section(monkeypatch: pytest.MonkeyPatch) -> None:
    import rnnviz.lessons.memnet as memnet

    sections = dict(memnet.load("lessons/memnet", "en").sections)
    sections["template.grab"] = "{{person}} took it."
    monkeypatch.setattr(memnet, "load", lambda doc, lang: type("D", (), {"sections": sections}))
    with pytest.raises(RnnVizError, match="template.grab"):
        World.load("en")


# ---- stories ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_generated_answers_agree_with_an_independent_rule_reader(lang: str) -> None:
    world, vocab = WORLDS[lang], VOCAB[lang]
    rng = np.random.default_rng(0)
    seen_places, seen_people = set(), set()
    for n in (1, 2, 3, 7, 20):
        for kind in KINDS:
            if kind == "thing" and n < 2:
                continue
            for _ in range(40):
                story = generate_story(world, rng, n, kind)
                assert len(story.sentences) == n and story.kind == kind
                assert solve(story, world, vocab) == (story.answer, kind, story.support)
                assert len(story.support) == (1 if kind == "person" else 2)
                assert story.answer in vocab and story.answer in [p.lower() for p in world.places]
                seen_places.add(story.answer)
                seen_people.update(w for s in story.sentences for w in vocab.tokenize(s)[0]
                                   if world.entity_kind(w) == "person")
    assert len(seen_places) == len(world.places)  # not a degenerate generator
    assert len(seen_people) == len(world.people)


def test_the_rule_reader_follows_the_last_move_and_the_holder() -> None:
    story = Story(("小明去了厨房", "小红去了花园", "小明拿起了苹果", "小明走进了卧室"),
                  "苹果在哪里？")
    assert solve(story, ZH, VOCAB["zh"]) == ("卧室", "thing", (2, 3))
    # Support comes in look-up order: the pick-up first, even when the move came before it.
    story = Story(("小明去了厨房", "小明拿起了苹果", "小红去了花园"), "苹果在哪里？")
    assert solve(story, ZH, VOCAB["zh"]) == ("厨房", "thing", (1, 0))
    story = Story(("小明去了厨房", "小明去了花园"), "小明在哪里")
    assert solve(story, ZH, VOCAB["zh"]) == ("花园", "person", (1,))
    story = Story(("小明去了厨房",), "小红在哪里")  # the story does not say
    assert solve(story, ZH, VOCAB["zh"]) == (None, "person", ())


def test_stories_are_seeded_and_a_two_hop_story_needs_two_sentences() -> None:
    a = example_stories(EN, 4, seed=3, length=6)
    assert a == example_stories(EN, 4, seed=3, length=6)
    assert a != example_stories(EN, 4, seed=4, length=6)
    assert [s.kind for s in a] == ["person", "thing", "person", "thing"]
    with pytest.raises(RnnVizError, match="2"):
        generate_story(ZH, np.random.default_rng(0), 1, "thing")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_story_round_trips_through_its_text(lang: str) -> None:
    story = generate_story(WORLDS[lang], np.random.default_rng(1), 6, "thing")
    parsed = parse_story(story.text, story.question, WORLDS[lang], VOCAB[lang], 20, lang)
    assert len(split_story(story.text)) == 6
    assert (parsed.answer, parsed.kind, parsed.support) == (story.answer, story.kind,
                                                            story.support)


@pytest.mark.parametrize("story, question, key", [
    ("", "小明在哪里？", "error.empty_story"),
    ("。。\n  ", "小明在哪里？", "error.empty_story"),
    ("小明去了厨房。小明在哪里？小红去了花园。", "小明在哪里？", "error.question_in_story"),
    ("小明去了厨房。" * 21, "小明在哪里？", "error.too_long"),
    ("小明小红小刚小丽小明小红小刚小丽去了厨房", "小明在哪里？", "error.sentence_too_long"),
    ("小明去了厨房。", "", "error.no_question"),
    ("小明去了厨房。", "小明小红小刚小丽小明小红在哪里", "error.question_too_long"),
    ("小明去了学校。", "小明在哪里？", "error.unknown"),
    ("小明去了厨房。", "小明在干什么？", "error.unknown"),
])
def test_malformed_or_long_stories_get_a_clear_message(story: str, question: str,
                                                       key: str) -> None:
    with pytest.raises(RnnVizError) as info:
        parse_story(story, question, ZH, VOCAB["zh"], 20, "zh")
    # The message is the content file's sentence for that case (its words before a value).
    start = load("lessons/memnet", "zh").sections[key].split("{{")[0]
    assert str(info.value).startswith(start), str(info.value)


def test_unknown_words_are_named_with_where_they_are_in_the_language_asked() -> None:
    with pytest.raises(RnnVizError) as info:
        parse_story("Mary went to the school. John moved to the garden", "Where is Mary?",
                    EN, VOCAB["en"], 20, "en")
    assert "school (in sentence 1)" in str(info.value) and "kitchen" in str(info.value)
    with pytest.raises(RnnVizError) as info:
        parse_story("小明去了厨房", "小明在干什么", ZH, VOCAB["zh"], 20, "en")
    assert "干什么 (in the question)" in str(info.value)


# ---- the memory network against the paper's equations, by hand ------------------------------


def test_position_encoding_is_the_papers_formula() -> None:
    # l_kj = (1 - j/J) - (k/d)(1 - 2j/J): J = 1 gives k/d; J = 2, d = 2 by hand.
    np.testing.assert_allclose(position_encoding(1, 4), [[0.25, 0.5, 0.75, 1.0]])
    np.testing.assert_allclose(position_encoding(2, 2), [[0.5 - 0.0, 0.5 - 0.0],
                                                         [0.0 + 0.5, 0.0 + 1.0]])
    # j = 1 of J = 3, k = 2 of d = 4: (1 - 1/3) - (2/4)(1 - 2/3) = 2/3 - 1/6 = 0.5
    assert position_encoding(3, 4)[0, 1] == pytest.approx(0.5)


def _by_hand(model: MemN2N, story: Story, vocab, softmax: bool = True
             ) -> tuple[np.ndarray, np.ndarray]:
    """(attention (K, n), answer logits (V,)): the paper's equations in float64 loops."""
    E = [e.weight.detach().double().numpy() for e in model.embed]
    T = model.temporal.detach().double().numpy()
    d, K = model.dim, model.hops

    def bag(k: int, words: list[int]) -> np.ndarray:
        J, total = len(words), np.zeros(d)
        for j, w in enumerate(words, 1):
            for kk in range(1, d + 1):
                total[kk - 1] += ((1 - j / J) - (kk / d) * (1 - 2 * j / J)) * E[k][w, kk - 1]
        return total

    sentences = [[vocab.id(w) for w in vocab.tokenize(s)[0]] for s in story.sentences]
    n = len(sentences)
    u = bag(0, [vocab.id(w) for w in vocab.tokenize(story.question)[0]])
    attention = []
    for k in range(1, K + 1):
        m = [bag(k - 1, s) + T[k - 1, n - 1 - i] for i, s in enumerate(sentences)]
        c = [bag(k, s) + T[k, n - 1 - i] for i, s in enumerate(sentences)]
        scores = np.array([u @ mi for mi in m])
        p = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum() if softmax \
            else scores
        attention.append(p)
        u = u + sum(pi * ci for pi, ci in zip(p, c, strict=True))
    logits = E[K] @ u
    logits[:len(SPECIALS)] = -np.inf
    return np.array(attention), logits


@pytest.mark.parametrize("hops", [1, 3])
@pytest.mark.parametrize("softmax", [True, False])
def test_attention_and_answer_equal_a_plain_loop_over_the_equations(hops: int,
                                                                     softmax: bool) -> None:
    vocab = VOCAB["en"]
    model = build_models(MemNetConfig(lang="en", hops=hops, seed=5), vocab)["memnet"].eval()
    rng = np.random.default_rng(2)
    stories = [generate_story(EN, rng, n, kind) for n, kind in
               ((1, "person"), (4, "thing"), (9, "person"), (2, "thing"))]
    with torch.no_grad():
        reading = model(encode(stories, vocab), softmax=softmax)
    for b, story in enumerate(stories):
        n = len(story.sentences)
        attention, logits = _by_hand(model, story, vocab, softmax)
        got = reading.attention[b].double().numpy()
        np.testing.assert_allclose(got[:, :n], attention, rtol=1e-4, atol=1e-6)
        assert np.all(got[:, n:] == 0)  # empty memory slots get nothing
        if softmax:
            np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-6)
        np.testing.assert_allclose(reading.logits[b].double().numpy(), logits,
                                   rtol=1e-4, atol=1e-5)


def test_adjacent_tying_holds_k_plus_one_embeddings_and_the_answer_reads_the_last() -> None:
    vocab = VOCAB["zh"]
    config = MemNetConfig(hops=3)
    model = build_models(config, vocab)["memnet"]
    V, d, M = len(vocab), config.dim, config.max_sentences
    assert sum(p.numel() for p in model.parameters()) == 4 * V * d + 4 * M * d
    story = generate_story(ZH, np.random.default_rng(0), 3, "person")
    batch = encode([story], vocab)
    with torch.no_grad():
        before = model(batch).logits.clone()
        model.embed[3].weight[vocab.id("厨房")] += 1.0  # C^3 = W^T: the answer row moves
    after = model(batch).logits
    changed = (after - before).abs()[0] > 1e-6
    assert changed[vocab.id("厨房")]


def test_the_lstm_answers_each_story_as_if_it_read_it_alone() -> None:
    vocab = VOCAB["en"]
    lstm = build_models(MemNetConfig(lang="en"), vocab)["lstm"].eval()
    rng = np.random.default_rng(4)
    stories = [generate_story(EN, rng, n, "person") for n in (1, 6, 3)]
    with torch.no_grad():
        batch_logits = lstm(encode(stories, vocab)).logits
        for b, story in enumerate(stories):
            ids = [i for s in story.sentences for i in (*vocab.ids(s), vocab.id(EOS))]
            ids += [*vocab.ids(story.question), vocab.id(QMARK)]
            out, _ = lstm.lstm(lstm.embedding(torch.tensor([ids])))  # no padding at all
            alone = lstm.out(out[0, -1])
            np.testing.assert_allclose(batch_logits[b, len(SPECIALS):].numpy(),
                                       alone[len(SPECIALS):].numpy(), rtol=1e-5, atol=1e-6)


# ---- training --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained() -> MemNetResult:
    """The memory network alone, the page's settings but 500 steps (~3-6 s on one core)."""
    return train_comparison(MemNetConfig(models=("memnet",), steps=500))


def test_trained_memory_network_answers_held_out_stories(trained: MemNetResult) -> None:
    sweep = trained.sweep["memnet"]
    assert trained.accuracy("memnet", "person") >= 0.95  # 1 hop
    assert min(sweep["person"].values()) >= 0.9  # at every length up to 20 sentences
    assert trained.accuracy("memnet", "thing") >= 0.9  # 2 hops
    # The held-out stories are new: another seed, and scored again they give the same.
    stories = heldout_stories(trained.world, 10, "person", 100, trained.config.seed)
    batch = encode(stories, trained.vocab)
    with torch.no_grad():
        right = trained.models()["memnet"](batch).logits.argmax(-1) == batch.answer
    assert float(right.float().mean()) == pytest.approx(sweep["person"][10])


def test_a_hand_built_story_puts_most_attention_on_the_one_fact(trained: MemNetResult) -> None:
    story = parse_story("小明去了厨房。小红去了花园。小刚去了卧室。小丽走进了浴室。",
                        "小红在哪里？", trained.world, trained.vocab, 20, "zh")
    assert story.support == (1,)
    answer = answer_story(trained, story)["memnet"]
    assert answer.attention.shape == (3, 4)
    np.testing.assert_allclose(answer.attention.sum(-1), 1.0, atol=1e-9)
    assert answer.attention[0, 1] > 0.5 and int(np.argmax(answer.attention[0])) == 1
    assert answer.answer == "花园" and answer.probability > 0.5
    assert [p for _, p in answer.top] == sorted((p for _, p in answer.top), reverse=True)


def test_two_hops_look_up_the_pick_up_then_the_holder(trained: MemNetResult) -> None:
    story = parse_story("小明去了厨房。小红去了花园。小红拿起了苹果。小明去了卧室。"
                        "小红走进了浴室。", "苹果在哪里？", trained.world, trained.vocab, 20,
                        "zh")
    attention = answer_story(trained, story)["memnet"].attention
    assert story.support == (2, 4) and story.answer == "浴室"
    assert int(np.argmax(attention[0])) == 2  # hop 1: who picked the apple up
    assert attention[1:, 4].max() > 0.5  # a later hop: where that person went last


@pytest.fixture(scope="module")
def english_lstm() -> MemNetResult:
    """The English LSTM alone with the page's default settings, seed 0 (~8-10 s on one core;
    the batches do not depend on which models train)."""
    return train_comparison(MemNetConfig(lang="en", models=("lstm",)))


def test_the_default_english_lstm_learns_and_falls_as_the_story_grows(
        english_lstm: MemNetResult) -> None:
    # At the memory network's learning rate this run stayed at 20-26 % at every length
    # (guessing: 20 %); at its own rate it learns the short stories (70 %) and falls to 36 %
    # on the 20-sentence ones: the fall the page asks about, not a run that learnt nothing.
    assert chance(english_lstm) == pytest.approx(1 / len(EN.places)) == pytest.approx(0.2)
    falls, short, long = accuracy_falls(english_lstm, "lstm")
    assert short >= chance(english_lstm) + 0.3
    assert falls and long <= short - 0.2
    assert not near_chance(english_lstm, "lstm")


def test_each_model_trains_at_its_own_learning_rate() -> None:
    config = MemNetConfig()
    assert config.lrs == {"memnet": 0.02, "lstm": 0.001}  # the swept rates (MemNetConfig)
    # Adam's first step moves every weight that has a gradient by lr * g / (|g| + eps), i.e.
    # by lr itself: one step from the seeded initial weights shows each model's own rate.
    run = MemNetConfig(steps=1, eval_lengths=(3,), eval_per_length=5, seed=4)
    result = train_comparison(run)
    for name, model in build_models(run, result.vocab).items():
        moved = max(float(np.abs(result.state[name][k] - v.detach().numpy()).max())
                    for k, v in model.state_dict().items())
        assert moved == pytest.approx(run.lrs[name], rel=1e-2), name
    other = MemNetConfig(steps=1, eval_lengths=(3,), eval_per_length=5, seed=4, lstm_lr=0.004)
    assert other.tag != run.tag  # a new rate is a new run (the page asks anew)
    assert train_comparison(other).history["memnet"] == result.history["memnet"]
    with pytest.raises(RnnVizError):
        MemNetConfig(lstm_lr=0)


def test_both_models_train_on_the_same_batches_and_stop_on_request() -> None:
    reports: list[MemNetProgress] = []
    calls = iter(range(1000))
    config = MemNetConfig(steps=40, report_every=10, eval_lengths=(2, 5), eval_per_length=8)
    result = train_comparison(config, reports.append, should_stop=lambda: next(calls) >= 25)
    assert result.stopped and result.steps_done == 25
    assert result.history["memnet"]["step"] == result.history["lstm"]["step"] == list(range(1, 26))
    assert [r.step for r in reports] == [0, 10, 20, 25] and reports[-1].done
    assert set(result.sweep) == {"memnet", "lstm"}
    assert set(result.sweep["lstm"]["person"]) == {2, 5}


class _Recorder:
    def __init__(self) -> None:
        self.updates: list[dict] = []

    def update(self, **fields) -> None:
        self.updates.append(fields)

    def should_stop(self) -> bool:
        return False


def test_the_job_reports_progress_and_its_result_crosses_a_process_boundary() -> None:
    job = _Recorder()
    config = MemNetConfig(steps=12, report_every=5, eval_lengths=(3,), eval_per_length=5,
                          seed=3)
    result = train_job(job, config)
    assert [u["progress"].step for u in job.updates] == [0, 5, 10, 12]
    copy = pickle.loads(pickle.dumps(result))  # what the child process sends back
    assert all(isinstance(v, np.ndarray) for s in copy.state.values() for v in s.values())
    story = generate_story(copy.world, np.random.default_rng(0), 4, "thing")
    a, b = answer_story(result, story), answer_story(copy, story)
    for name in ("memnet", "lstm"):
        assert a[name].answer == b[name].answer
        assert a[name].probability == pytest.approx(b[name].probability, abs=1e-12)
    rows = summary_rows(copy, "en")
    assert [r["model"] for r in rows] == ["Memory network", "LSTM"]
    assert rows[0]["parameters"] == sum(v.size for v in copy.state["memnet"].values())


def test_the_same_settings_give_the_same_run() -> None:
    config = MemNetConfig(steps=6, eval_lengths=(4,), eval_per_length=5, seed=9)
    a, b = train_comparison(config), train_comparison(config)
    assert a.history == b.history and a.sweep == b.sweep
    assert config.tag == MemNetConfig(**config.to_dict()).tag
    assert config.tag != MemNetConfig(steps=6, eval_lengths=(4,), eval_per_length=5, seed=8).tag


def test_accuracy_falls_compares_the_shortest_and_longest_stories() -> None:
    result = MemNetResult.__new__(MemNetResult)
    result.sweep = {"lstm": {"person": {2: 0.9, 20: 0.4}, "thing": {2: 1.0, 20: 0.3}},
                    "memnet": {"person": {2: 1.0, 20: 0.98}, "thing": {2: 1.0, 20: 0.99}}}
    assert accuracy_falls(result, "lstm") == (True, pytest.approx(0.95), pytest.approx(0.35))
    falls, short, long = accuracy_falls(result, "memnet")
    assert not falls and short == 1.0 and long == pytest.approx(0.985)


def test_a_model_at_guessing_level_everywhere_is_near_chance_not_holding_up() -> None:
    # 5 places: guessing scores 20 %. A flat curve at chance is "learnt nothing", which
    # accuracy_falls alone reports as "does not fall" (the page then says so instead of
    # explaining a fall that never happened).
    result = MemNetResult.__new__(MemNetResult)
    result.world = ZH
    result.sweep = {"lstm": {"person": {2: 0.2, 20: 0.25}, "thing": {2: 0.2, 20: 0.26}},
                    "memnet": {"person": {2: 1.0, 20: 0.98}, "thing": {2: 0.9, 20: 0.2}}}
    assert len(ZH.places) == 5
    assert not accuracy_falls(result, "lstm")[0] and near_chance(result, "lstm")
    assert not near_chance(result, "memnet")  # far above chance on the short stories
    result.sweep["lstm"]["person"][2] = 0.45  # learnt a little: not at chance any more
    assert not near_chance(result, "lstm")


@pytest.mark.parametrize("bad", [dict(hops=0), dict(hops=4), dict(steps=0),
                                 dict(max_sentences=60), dict(eval_lengths=(1, 30)),
                                 dict(models=("gru",)), dict(two_hop_share=1.5)])
def test_bad_settings_are_refused(bad: dict) -> None:
    with pytest.raises(RnnVizError):
        MemNetConfig(**bad)


def test_a_story_longer_than_the_memory_is_refused(trained: MemNetResult) -> None:
    long = Story(("小明去了厨房",) * 21, "小明在哪里")
    with pytest.raises(RnnVizError, match="21"):
        answer_story(trained, long)


# ---- figures ---------------------------------------------------------------------------------


def test_figures_draw_the_computed_numbers(trained: MemNetResult) -> None:
    story = generate_story(ZH, np.random.default_rng(8), 5, "thing")
    attention = answer_story(trained, story)["memnet"].attention
    fig = attention_figure(story, attention, "en")
    heat = fig.data[0]
    np.testing.assert_allclose(np.asarray(heat.z, dtype=float), attention.T, atol=1e-6)
    assert list(heat.x) == ["hop 1", "hop 2", "hop 3"]
    starred = [i for i, label in enumerate(heat.y) if label.startswith("★")]
    assert starred == sorted(story.support)
    sweep = sweep_figure(trained, "zh")
    line = next(t for t in sweep.data if "一跳" in t.name)
    assert list(line.y) == list(trained.sweep["memnet"]["person"].values())
    assert math.isclose(sweep.layout.shapes[0].y0, 1 / len(ZH.places))
    curves = curves_figure(trained.history, 500, "en")
    assert {t.name for t in curves.data} == {"Memory network"} and len(curves.data) == 2
