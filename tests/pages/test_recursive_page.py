"""The recursive-networks page under AppTest: the tree over a typed sentence, merges, the two
questions answered from the live numbers, the written-out composition, the gradient figure, a
live run of the toy task through the job runner, errors for bad sentences, English."""

from __future__ import annotations

import math
import re

import numpy as np
from apptest_helpers import answer_question, chart_specs, open_page, revealed, stop_jobs
from streamlit.testing.v1 import AppTest

from rnnviz.content import text
from rnnviz.lessons.recursive import (
    MAX_WORDS,
    balanced_tree,
    build_tree,
    chain_tree,
    compose_sentence,
    demo_composition,
    leaf_gradients,
    leaf_vectors,
    sentence_words,
    smallest_position,
)

PAGE = "pages/recursive.py"
DOC = "recursive"
DEFAULT = text("zh", DOC, "build.default_text")
WORDS = sentence_words(DEFAULT)  # 这部 电影 的 故事 并 不 精彩


def _tree_chart(at: AppTest) -> dict | None:
    return next((s for s in chart_specs(at) if any(t.get("name") == "selected" or
                 t.get("mode") == "text" for t in s["data"])), None)


def _grad_chart(at: AppTest) -> dict | None:
    title = text("zh", "plots/recursive", "grad.title")
    return next((s for s in chart_specs(at) if s["layout"].get("title", {}).get("text") == title),
                None)


def test_the_depth_question_holds_the_tree_back_until_answered(at: AppTest) -> None:
    assert at.title[0].value == text("zh", DOC, "title")
    leaves_line = next(m.value for m in at.markdown if "jieba" in m.value)
    assert all(w in leaves_line for w in WORDS)
    assert _tree_chart(at) is None  # the chain's depth is asked first
    answer_question(at, "q_depth", 6)
    assert not at.exception
    assert any(s.value.startswith("答对了") and "6" in s.value for s in at.success)
    tree = _tree_chart(at)
    assert tree is not None
    labels = next(t for t in tree["data"] if t.get("mode") == "text")["text"]
    assert labels == WORDS


def test_balanced_depth_is_ceil_log2_n_and_a_wrong_answer_is_corrected(at: AppTest) -> None:
    at.radio(key="recursive_shape").set_value("balanced").run()
    answer_question(at, "q_depth", 6)  # the chain's depth: wrong for the balanced tree
    right = math.ceil(math.log2(len(WORDS)))
    assert any(w.value.startswith("不对") and str(right) in w.value for w in at.warning)
    assert _tree_chart(at) is not None  # revealed, even when wrong


def test_the_written_out_composition_is_the_chosen_node_s(at: AppTest) -> None:
    at.sidebar.toggle(key="quiz_on").set_value(False).run()  # a demo: answers shown
    at.radio(key="recursive_shape").set_value("balanced").run()
    comp = demo_composition()
    run = compose_sentence(comp, build_tree("balanced", len(WORDS)), WORDS)
    assert at.selectbox(key="recursive_node").value == "0:7"  # the root by default
    shown = [float(v) for v in re.findall(r"-?\d+\.\d+", at.latex[-1].value)][-4:]
    np.testing.assert_allclose(shown, run.vectors[(0, 7)], atol=0.005 + 1e-12)
    at.selectbox(key="recursive_node").set_value("4:7").run()
    assert not at.exception
    assert r"p_{5..7}" in at.latex[-1].value
    shown = [float(v) for v in re.findall(r"-?\d+\.\d+", at.latex[-1].value)][-4:]
    np.testing.assert_allclose(shown, run.vectors[(4, 7)], atol=0.005 + 1e-12)
    ring = next(t for t in _tree_chart(at)["data"] if t.get("name") == "selected")
    assert len(ring["x"]) == 3  # the node and its two children


def test_merges_build_a_tree_step_by_step_and_undo_and_reset_work(at: AppTest) -> None:
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    at.radio(key="recursive_shape").set_value("merges").run()
    remaining = text("zh", DOC, "merge.remaining", more=len(WORDS) - 1)
    assert any(i.value == remaining for i in at.info)
    at.selectbox(key="recursive_pair").set_value(5).run()  # 不 + 精彩
    at.button(key="recursive_merge").click().run()
    assert at.session_state["recursive_merges"]["merges"] == [5]
    at.button(key="recursive_undo").click().run()
    assert at.session_state["recursive_merges"]["merges"] == []
    for pair in (5, 4, 1, 0, 1, 0):  # (这部 (电影 的)) (故事 (并 (不 精彩)))
        at.selectbox(key="recursive_pair").set_value(pair).run()
        at.button(key="recursive_merge").click().run()
    assert not at.exception
    assert any(s.value == text("zh", DOC, "merge.done", depth=4) for s in at.success)
    names = [t["name"] for t in _grad_chart(at)["data"]]
    assert names == [text("zh", "plots/recursive", f"shape.{s}")
                     for s in ("chain", "balanced", "merges")]
    at.button(key="recursive_reset").click().run()
    assert at.session_state["recursive_merges"]["merges"] == []
    at.text_input(key="recursive_text").set_value("我们今天学习递归神经网络").run()
    assert any(i.value == text("zh", DOC, "merge.remaining", more=4) for i in at.info)


def test_the_gradient_question_answers_from_the_live_norms_and_follows_the_gain(
        at: AppTest) -> None:
    answer_question(at, "q_depth", 6)
    assert _grad_chart(at) is None  # held back until the gradient question is answered
    x = leaf_vectors(WORDS)
    chain = leaf_gradients(demo_composition(), chain_tree(len(WORDS)), x, "chain")
    answer_question(at, "q_small", smallest_position(chain))
    assert any(s.value.startswith("答对了") for s in at.success)
    fig = _grad_chart(at)
    order = np.argsort(chain.depths, kind="stable")
    np.testing.assert_allclose(fig["data"][0]["y"], chain.norms[order], rtol=1e-6)
    balanced = leaf_gradients(demo_composition(), balanced_tree(len(WORDS)), x, "balanced")
    assert max(fig["data"][1]["x"]) == math.ceil(math.log2(len(WORDS)))
    np.testing.assert_allclose(sorted(fig["data"][1]["y"]), sorted(balanced.norms), rtol=1e-6)
    at.slider(key="recursive_gain").set_value(3.0).run()  # new numbers: a new question
    assert _grad_chart(at) is None
    big = leaf_gradients(demo_composition().scaled(3.0), chain_tree(len(WORDS)), x, "chain")
    wrong = next(o for o in ("first", "middle", "last") if o != smallest_position(big))
    answer_question(at, "q_small", wrong)
    label = text("zh", DOC, f"q_small.opt.{smallest_position(big)}")
    assert any(label in w.value for w in at.warning)


def test_a_saturated_balanced_tree_with_the_smaller_gradient_is_said_so(at: AppTest) -> None:
    # At a large gain tanh saturates: the balanced tree's smallest gradient can fall below the
    # chain's, and the page must say that fewer factors are not larger factors.
    typed = "今天天气很好我们去公园散步吧"
    words = sentence_words(typed)
    x, n = leaf_vectors(words), len(words)

    def smallest(gain: float, tree) -> float:
        return float(leaf_gradients(demo_composition().scaled(gain), tree, x).norms.min())

    assert smallest(1.0, balanced_tree(n)) > smallest(1.0, chain_tree(n))
    assert smallest(3.0, balanced_tree(n)) < smallest(3.0, chain_tree(n))
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    at.text_input(key="recursive_text").set_value(typed).run()
    note = text("zh", DOC, "depth.saturated", gain=1.0)
    assert not at.exception and note not in [c.value for c in at.caption]
    at.slider(key="recursive_gain").set_value(3.0).run()
    assert text("zh", DOC, "depth.saturated", gain=3.0) in [c.value for c in at.caption]


def test_bad_sentences_get_a_clear_message(at: AppTest) -> None:
    at.text_input(key="recursive_text").set_value("   ").run()
    assert not at.exception
    assert [e.value for e in at.error] == [text("zh", "lessons/recursive", "error.empty")]
    at.text_input(key="recursive_text").set_value("你好").run()
    assert at.error[0].value == text("zh", "lessons/recursive", "error.too_few", n=1, min=2)
    long = "我们今天学习递归神经网络" * 4
    at.text_input(key="recursive_text").set_value(long).run()
    assert at.error[0].value == text("zh", "lessons/recursive", "error.too_many", n=20,
                                     max=MAX_WORDS)
    assert at.get("page_link")  # the rest of the page (the toy, the next stop) still renders


def test_the_toy_run_trains_both_models_in_the_background_and_reports_held_out(
        at: AppTest) -> None:
    assert any(i.value == text("zh", DOC, "toy.hint") for i in at.info)
    at.select_slider(key="recursive_steps").set_value(100)
    at.slider(key="recursive_leaves").set_value(4)
    at.number_input(key="recursive_seed").set_value(3)
    at.button(key="recursive_start").click().run()
    assert not at.exception
    job = at.session_state["jobs_registry"]["recursive_job"]
    try:
        assert job.wait(120), job.status
        assert job.status == "done", job.error
        result = job.result
        assert result.steps_done == 100 and result.config.steps == 100
        assert result.config.max_leaves == 4 and result.config.seed == 3
        at.run()
        assert not at.exception
        table = at.dataframe[0].value
        assert list(table.iloc[:, -1]) == [round(result.final_accuracy[k], 3)
                                           for k in ("tree", "chain")]
        curves = next(s for s in chart_specs(at) if len(s["data"]) == 4)
        assert max(max(t["x"]) for t in curves["data"]) == 100
        verdict = text("zh", DOC, "toy.verdict", tree=result.final_accuracy["tree"],
                       chain=result.final_accuracy["chain"], steps=100,
                       seconds=result.elapsed_s, n=result.config.eval_size)
        assert any(m.value == verdict for m in at.markdown)
    finally:
        stop_jobs(at)


def test_stop_ends_a_toy_run(at: AppTest) -> None:
    at.select_slider(key="recursive_steps").set_value(1200)
    at.button(key="recursive_start").click().run()
    at.button(key="recursive_stop").click().run()
    job = at.session_state["jobs_registry"]["recursive_job"]
    try:
        assert job.wait(120)
        assert job.status == "stopped" and job.stop_reason == "user"
        at.run()
        assert not at.exception and not at.dataframe
    finally:
        stop_jobs(at)


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == text("en", DOC, "title")
    assert any("Key points" in s.value for s in at.subheader)
    answer_question(at, "q_depth", 6)
    assert any(s.value.startswith("Right") for s in at.success)
    at.text_input(key="recursive_text").set_value("").run()
    assert at.error[0].value == text("en", "lessons/recursive", "error.empty")


def test_questions_off_show_every_answer_and_figure(at: AppTest) -> None:
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    assert not at.exception
    assert len(revealed(at)) == 2
    assert _tree_chart(at) is not None and _grad_chart(at) is not None


def test_answers_are_kept_per_session() -> None:
    one, two = open_page(PAGE), open_page(PAGE)
    answer_question(one, "q_depth", 6)
    two.run()
    assert _tree_chart(one) is not None and _tree_chart(two) is None
