"""The gradients page: live powers, Jacobian norms with the sigmoid's ceiling, the clipping run
and picture, its three questions; both languages."""

from __future__ import annotations

import math

import numpy as np
from apptest_helpers import answer_question, chart_specs, open_page, plotly_values, shown_metrics
from streamlit.testing.v1 import AppTest

from rnnviz.content import text
from rnnviz.lessons.gradients import jacobian_norms, jacobian_setup, matrix_norm

PAGE = "pages/gradients.py"


def _words(key: str, lang: str = "zh", **values: object) -> str:
    return text(lang, "gradients", key, **values)


def _questions_off(at: AppTest) -> AppTest:
    return at.sidebar.toggle(key="quiz_on").set_value(False).run()


def test_defaults_ask_before_they_show(at: AppTest) -> None:
    asking = {w.key for w in [*at.radio, *at.number_input] if w.key.startswith("quiz_")}
    assert asking == {"quiz_q_power_number", "quiz_q_tanh_choice", "quiz_q_direction_choice"}
    assert "0.99^100" not in shown_metrics(at)  # the guess comes first
    assert len(at.get("plotly_chart")) == 1  # only the clipping run: the rest wait
    assert r"\frac{\partial L_T}{\partial h_t} =" in at.latex[0].value
    assert r"J_T\, J_{T-1} \cdots J_{t+1}" in at.latex[0].value
    assert at.get("page_link")


def test_power_guess_reveals_the_live_power(at: AppTest) -> None:
    answer_question(at, "q_power", 0.37)  # within 20 % of 0.99^100 = 0.366
    assert any(s.value.startswith("答对了") and "0.366" in s.value for s in at.success)
    metrics = shown_metrics(at)
    assert metrics["0.99^100"].startswith("0.366")
    assert metrics["1.1^100"] == "13780.6"
    power_fig = chart_specs(at)[0]
    assert [t["name"] for t in power_fig["data"]] == ["0.99<sup>t</sup>", "1.1<sup>t</sup>"]
    assert math.isclose(plotly_values(power_fig["data"][1]["y"])[-1], 1.1**100, rel_tol=1e-9)
    assert power_fig["layout"]["yaxis"]["type"] == "log"
    # New numbers, a new question: 0.9^50 is not 0.5.
    at.slider(key="grad_factor_a").set_value(0.9).run()
    at.slider(key="grad_T").set_value(50).run()
    assert "0.9^50" not in shown_metrics(at)
    answer_question(at, "q_power", 0.5)
    [wrong] = [w.value for w in at.warning]
    assert f"{0.9**50:.4g}" in wrong
    assert shown_metrics(at)["0.9^50"] == f"{0.9**50:.6g}"
    assert shown_metrics(at)["1.1^50"] == f"{1.1**50:.6g}"


def test_tanh_question_follows_the_spectral_radius(at: AppTest) -> None:
    # ρ = 2 > 1, yet tanh's product vanishes over 100 steps: saturation.
    end = jacobian_norms(jacobian_setup(T=100, spectral_radius=2.0), "tanh")[-1]
    assert end < 1
    answer_question(at, "q_tanh", "above")
    [wrong] = [w.value for w in at.warning]
    assert _words("q_tanh.opt.below") in wrong
    assert any(f"{end:.3g}" in c.value for c in at.caption)
    at.slider(key="grad_rho").set_value(3.0).run()
    assert jacobian_norms(jacobian_setup(T=100, spectral_radius=3.0), "tanh")[-1] > 1
    answer_question(at, "q_tanh", "above")
    assert any(s.value.startswith("答对了") for s in at.success)


def test_jacobian_chart_has_three_activations_a_ceiling_and_follows_the_sliders(
    at: AppTest,
) -> None:
    _questions_off(at)
    jac, deriv = chart_specs(at)[1:3]
    names = [t["name"] for t in jac["data"]]
    assert names[:3] == ["tanh", "sigmoid", "relu"]
    assert names[3] == text("zh", "plots/gradients", "jac.bound")
    assert len(plotly_values(jac["data"][0]["x"])) == 101  # distances 0..T with T = 100
    assert "谱范数" in jac["layout"]["title"]["text"]
    assert any("0.25" in str(t.get("text")) for t in deriv["data"])
    # The sigmoid stays under (‖W‖₂/4)^(T−t), and the text quotes that ‖W‖₂ / 4.
    setup = jacobian_setup(T=100, spectral_radius=2.0)
    w2 = matrix_norm(setup.W, "spectral")
    sigmoid, ceiling = (np.nan_to_num(plotly_values(jac["data"][i]["y"])) for i in (1, 3))
    np.testing.assert_allclose(ceiling, (w2 / 4) ** np.arange(101), rtol=1e-6)
    assert (sigmoid <= ceiling * (1 + 1e-6)).all()
    assert any(f"{w2 / 4:.2f}" in m.value and "1/4" in m.value for m in at.markdown)
    at.slider(key="grad_rho").set_value(0.8).run()
    at.slider(key="grad_jac_T").set_value(40).run()
    at.radio(key="grad_norm").set_value("fro").run()
    assert not at.exception
    jac = chart_specs(at)[1]
    assert len(plotly_values(jac["data"][0]["x"])) == 41
    assert "Frobenius" in jac["layout"]["title"]["text"] and "0.8" in jac["layout"]["title"]["text"]
    # With ρ < 1 every activation's product shrinks far below 1 over 40 steps.
    assert all(not plotly_values(t["y"])[-1] >= 1e-3 for t in jac["data"][:3])


def test_clipping_run_diverges_without_and_trains_with_clipping(at: AppTest) -> None:
    metrics = shown_metrics(at)
    assert "发散" in metrics[_words("clip.metric.none")]
    assert metrics[_words("clip.metric.norm")].startswith("最终损失")
    at.select_slider(key="grad_clip").set_value(5.0).run()
    assert not at.exception
    clip_fig = chart_specs(at)[0]
    names = {t["name"] for t in clip_fig["data"] if t.get("showlegend", True)}
    assert {"不裁剪", "按范数裁剪 (5)", "按值裁剪 (5)"} <= names


def test_direction_question_and_picture_follow_the_threshold(at: AppTest) -> None:
    # c = 1 cuts g_1 = 3 but not g_2 = 0.8: the direction turns.
    answer_question(at, "q_direction", "yes")
    [wrong] = [w.value for w in at.warning]
    assert _words("q_direction.opt.no") in wrong
    geometry = chart_specs(at)[-1]
    names = [t["name"] for t in geometry["data"] if t["mode"] == "lines+markers"]
    assert names[1:] == [text("zh", "plots/gradients", "geom.norm.shorter"),
                         text("zh", "plots/gradients", "geom.value.turned", angle=23.73)]
    # c = 5 cuts nothing: the same direction, and the picture says neither clipping changed g.
    at.select_slider(key="grad_clip").set_value(5.0).run()
    answer_question(at, "q_direction", "yes")
    assert any(s.value.startswith("答对了") for s in at.success)
    geometry = chart_specs(at)[-1]
    names = [t["name"] for t in geometry["data"] if t["mode"] == "lines+markers"]
    assert names[1:] == [text("zh", "plots/gradients", "geom.norm.same"),
                         text("zh", "plots/gradients", "geom.value.same")]


def test_questions_off_show_every_figure(at: AppTest) -> None:
    _questions_off(at)
    assert not at.exception
    assert len(at.get("plotly_chart")) == 5
    assert len([i for i in at.info if i.value.startswith("答案")]) == 3


def test_english() -> None:
    at = open_page(PAGE)
    at.sidebar.radio(key="lang").set_value("en").run()
    _questions_off(at)
    assert not at.exception
    assert at.title[0].value == "Vanishing and exploding gradients"
    metrics = shown_metrics(at)
    assert "diverged at step" in metrics["no clipping"]
    assert metrics["1.1^100"] == "13780.6"
    assert any("‖W‖₂/4" in m.value or r"\|W\|_2/4" in m.value for m in at.markdown)
