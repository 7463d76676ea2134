"""The memory-network page under AppTest: the stories before any training, a live run through
the job runner (a child process), the hop-1 question and the attention it holds back, the
answers, the LSTM question and the sweep, typed stories and their errors, the server-wide
reuse of a finished run, Stop, questions off, and English."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from apptest_helpers import answer_question, chart_specs, open_page, plotly_values, stop_jobs
from streamlit.testing.v1 import AppTest

from rnnviz.content import load, text
from rnnviz.lessons.memnet import (
    MemNetResult,
    World,
    accuracy_falls,
    answer_story,
    build_vocab,
    near_chance,
    parse_story,
    solve,
)
from rnnviz.lessons.memnet import Story as MemStory
from ui.route import next_stop

PAGE = "pages/memory_network.py"
DOC = "memory_network"
QUICK = 250  # the fewest steps the page offers: a run of a few seconds


@pytest.fixture
def at() -> Iterator[AppTest]:
    at = open_page(PAGE)
    yield at
    stop_jobs(at)


def train(at: AppTest, steps: int = QUICK, seed: int = 0) -> MemNetResult:
    """Press Start and wait for the run (none when this server already has one like it)."""
    at.select_slider(key="memnet_steps").set_value(steps)
    at.number_input(key="memnet_seed").set_value(seed)
    at.button(key="memnet_start").click().run()
    assert not at.exception
    job = at.session_state["jobs_registry"].get("memnet_job") \
        if "jobs_registry" in at.session_state else None
    if job is not None:
        assert job.wait(240), "the training job did not finish"
        assert job.status == "done", job.error
        at.run()  # what the live view's end-of-run rerun does in a browser
        assert not at.exception
    return at.session_state["memnet_result"]


def shown_story(at: AppTest, result: MemNetResult, lang: str = "zh") -> MemStory:
    return parse_story(at.text_area(key="memnet_story").value,
                       at.text_input(key="memnet_question").value, result.world, result.vocab,
                       result.config.max_sentences, lang)


def asking(at: AppTest, key: str) -> bool:
    return any(w.key == f"quiz_{key}_number" or w.key == f"quiz_{key}_choice"
               for w in [*at.number_input, *at.radio])


def test_before_training_the_page_shows_stories_and_asks_to_train(at: AppTest) -> None:
    assert at.title[0].value == text("zh", DOC, "title")
    assert at.info[0].value == text("zh", DOC, "train.first")
    assert not at.get("plotly_chart")
    world = World.load("zh")
    vocab = build_vocab(world)
    blocks = at.code[0].value.split("\n\n")
    assert len(blocks) == 2
    stories = []
    for block in blocks:  # numbered sentences; the answer after the arrow is the rules' answer
        *lines, last = block.split("\n")
        assert [line.split(" ", 1)[0] for line in lines] == [str(i + 1) for i in range(len(lines))]
        question, answer = last.split("  →  ")
        story = MemStory(tuple(line.split(" ", 1)[1] for line in lines), question)
        assert solve(story, world, vocab)[0] == answer
        stories.append(story)
    budget = at.caption[0].value
    assert "1000" in budget and "32" in budget and "0.02" in budget and "0.001" in budget
    assert budget == text("zh", DOC, "train.budget", steps=1000, batch=32, memnet_lr=0.02,
                          lstm_lr=0.001, clip=40, low=2, high=20, share=0.5, d=20, hidden=64)
    assert next_stop("lstm_steps").page == "memory_network"
    assert at.get("page_link")[-1].proto.page == next_stop("memory_network").slug
    # Two look-ups by hand before any model: where the person's answer is, then which of the
    # thing's two sentences comes first (the pick-up); their answers are the rule reader's.
    person, thing = stories
    assert asking(at, "q_lookup") and asking(at, "q_first")
    _, _, (fact,) = solve(person, world, vocab)
    answer_question(at, "q_lookup", fact + 1)
    assert len(at.success) == 1
    assert any(person.sentences[fact] in c.value for c in at.caption)  # the why names it
    _, _, (picked, moved) = solve(thing, world, vocab)
    assert "拿" in thing.sentences[picked] and picked != moved
    answer_question(at, "q_first", moved + 1)  # the holder's move is the second look-up
    assert len(at.warning) == 1 and str(picked + 1) in at.warning[0].value
    assert any(thing.sentences[picked] in c.value and thing.sentences[moved] in c.value
               for c in at.caption)


def test_a_run_trains_live_and_hop_1_is_asked_before_the_attention_shows(at: AppTest) -> None:
    result = train(at)
    assert result.steps_done == QUICK and not result.stopped
    assert set(result.sweep) == {"memnet", "lstm"}
    story = shown_story(at, result)
    assert story.kind == "thing" and len(story.sentences) == 5  # the page's default story
    assert asking(at, "q_hop1") and not [s for s in chart_specs(at) if s["data"][0]["type"]
                                         == "heatmap"]
    expected = answer_story(result, story)  # the same model, read again by the core
    right = int(np.argmax(expected["memnet"].attention[0])) + 1
    wrong = right % len(story.sentences) + 1
    answer_question(at, "q_hop1", wrong)
    assert any(str(right) in w.value for w in at.warning)
    [heat] = [s for s in chart_specs(at) if s["data"][0]["type"] == "heatmap"]
    np.testing.assert_allclose(plotly_values(heat["data"][0]["z"]),
                               expected["memnet"].attention.T, atol=1e-6)
    metrics = {m.label: (m.value, m.delta) for m in at.metric}
    for name, label in (("memnet", "记忆网络的回答"), ("lstm", "LSTM的回答")):
        value, delta = metrics[label]
        assert value == expected[name].answer
        assert delta == text("zh", DOC, "read.probability", p=expected[name].probability)
    assert metrics[text("zh", DOC, "read.truth")][0] == story.answer


def test_the_run_takes_the_hops_seed_and_linear_start_chosen(at: AppTest) -> None:
    at.radio(key="memnet_hops").set_value(1)
    at.checkbox(key="memnet_linear").check()
    result = train(at, seed=5)
    assert (result.config.hops, result.config.seed) == (1, 5)
    assert result.config.linear_start == QUICK // 10
    done = text("zh", DOC, "train.done", hops=1, steps=QUICK, seed=5, seconds=result.elapsed_s,
                memnet=result.params["memnet"], lstm=result.params["lstm"])
    assert done in [c.value for c in at.caption]  # the page says which run it shows


def test_a_new_story_is_a_new_question(at: AppTest) -> None:
    result = train(at)
    first = shown_story(at, result)
    answer_question(at, "q_hop1", 1).run()  # the committing run still draws the form
    assert not asking(at, "q_hop1")
    at.radio(key="memnet_kind").set_value("person")
    at.slider(key="memnet_length").set_value(8)
    at.button(key="memnet_new").click().run()
    story = shown_story(at, result)
    assert story != first and story.kind == "person" and len(story.sentences) == 8
    assert asking(at, "q_hop1")


def test_the_lstm_question_and_the_sweep_follow_the_run(at: AppTest) -> None:
    result = train(at)
    falls = accuracy_falls(result, "lstm")[0]
    right = "falls" if falls else "holds"
    assert not any(s["layout"].get("title", {}).get("text", "").startswith("留出集")
                   for s in chart_specs(at))  # held back until answered
    answer_question(at, "q_lstm", "holds" if falls else "falls")
    assert any(text("zh", DOC, f"q_lstm.opt.{right}") in w.value for w in at.warning)
    sweep = next(s for s in chart_specs(at)
                 if s["layout"].get("title", {}).get("text", "").startswith("留出集"))
    lines = {t["name"]: t for t in sweep["data"]}
    lstm_1hop = lines["LSTM · " + load("lessons/memnet", "zh").sections["kind.person"]]
    np.testing.assert_allclose(plotly_values(lstm_1hop["y"]),
                               list(result.sweep["lstm"]["person"].values()))
    table = at.dataframe[0].value
    assert list(table.iloc[:, 0]) == ["记忆网络", "LSTM"]


def test_a_typed_story_is_read_and_bad_ones_get_a_clear_message(at: AppTest) -> None:
    train(at)
    at.text_area(key="memnet_story").set_value("小明去了厨房。小红去了花园。小刚去了卧室。")
    at.text_input(key="memnet_question").set_value("小红在哪里？").run()
    assert not at.error
    answer_question(at, "q_hop1", 2)
    assert {m.label: m.value for m in at.metric}[text("zh", DOC, "read.truth")] == "花园"
    at.text_area(key="memnet_story").set_value("小明去了学校。").run()
    assert "学校" in at.error[0].value and "厨房" in at.error[0].value
    at.text_area(key="memnet_story").set_value("小明去了厨房。" * 21).run()
    assert at.error[0].value.startswith("故事有 21 句")
    at.text_area(key="memnet_story").set_value("小明去了厨房。小明在哪里？").run()
    assert "问号" in at.error[0].value
    assert not at.exception


def test_the_same_settings_reuse_the_run_this_server_finished() -> None:
    one = open_page(PAGE)
    result = train(one)
    two = open_page(PAGE)
    assert train(two) is result
    assert "jobs_registry" not in two.session_state or \
        "memnet_job" not in two.session_state["jobs_registry"]
    stop_jobs(one)


def test_stop_keeps_a_stopped_run_out_of_the_shared_cache(at: AppTest) -> None:
    at.select_slider(key="memnet_steps").set_value(2000)
    at.number_input(key="memnet_seed").set_value(717)
    at.button(key="memnet_start").click().run()
    at.button(key="memnet_stop").click().run()
    job = at.session_state["jobs_registry"]["memnet_job"]
    assert job.wait(120) and job.status == "stopped" and job.stop_reason == "user"
    at.run()
    assert not at.exception
    result = at.session_state["memnet_result"]
    assert result.stopped and result.steps_done < 2000
    assert at.warning[0].value == text("zh", DOC, "train.stopped", step=result.steps_done,
                                       total=2000)
    at.button(key="memnet_start").click().run()  # not reused: it trains again
    assert at.session_state["jobs_registry"]["memnet_job"] is not job


def test_with_questions_off_the_attention_shows_at_once(at: AppTest) -> None:
    train(at)
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    assert not at.exception and not asking(at, "q_hop1") and not asking(at, "q_lstm")
    types = [s["data"][0]["type"] for s in chart_specs(at)]
    assert "heatmap" in types and len(types) == 2  # attention and sweep


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == text("en", DOC, "title")
    assert "Where is" in at.code[0].value
    assert any("Key points" in s.value for s in at.subheader)
    assert text("en", DOC, "train.budget", steps=1000, batch=32, memnet_lr=0.02, lstm_lr=0.001,
                clip=40, low=2, high=20, share=0.5, d=20, hidden=64) == at.caption[0].value
    train(at)  # an English run: English stories and words
    story = shown_story(at, at.session_state["memnet_result"], "en")
    assert story.question.startswith("Where is")
    answer_question(at, "q_hop1", 1)
    assert any(m.label == "Memory network's answer" for m in at.metric)
    # 250 steps (the fewest the page offers) are too few for the English LSTM even at its own
    # learning rate: it stays at guessing level at every length (20-25 %), so the why must say
    # it learnt nothing, not explain a fall with length (the default 1000 steps learn:
    # tests/test_memnet.py).
    result = at.session_state["memnet_result"]
    assert near_chance(result, "lstm") and not near_chance(result, "memnet")
    answer_question(at, "q_lstm", "falls")
    verdict = text("en", DOC, "q_lstm.verdict.chance", chance=0.2)
    assert any(verdict in c.value for c in at.caption)
    assert not any(text("en", DOC, "q_lstm.verdict.falls") in c.value for c in at.caption)
    at.sidebar.radio(key="lang").set_value("zh").run()  # the run keeps its language
    assert text("zh", DOC, "read.other_language") in [c.value for c in at.caption]
