"""The gradients page: live powers, Jacobian norms, clipping run; both languages."""

from __future__ import annotations

import math

from apptest_helpers import chart_specs, plotly_values, shown_metrics
from streamlit.testing.v1 import AppTest

PAGE = "pages/gradients.py"


def test_defaults_show_the_two_powers(at: AppTest) -> None:
    assert "0.366" in at.latex[0].value and "13780.6" in at.latex[0].value
    metrics = shown_metrics(at)
    assert metrics["0.99^100"].startswith("0.366")
    assert metrics["1.1^100"] == "13780.6"
    power_fig = chart_specs(at)[0]
    names = [t["name"] for t in power_fig["data"]]
    assert names == ["0.99<sup>t</sup>", "1.1<sup>t</sup>"]
    assert math.isclose(plotly_values(power_fig["data"][1]["y"])[-1], 1.1**100, rel_tol=1e-9)
    assert power_fig["layout"]["yaxis"]["type"] == "log"
    assert len(at.get("plotly_chart")) == 5
    assert at.get("page_link")


def test_chosen_factor_and_T_are_computed_live(at: AppTest) -> None:
    at.slider(key="grad_factor_a").set_value(0.9).run()
    at.slider(key="grad_T").set_value(50).run()
    assert not at.exception
    assert shown_metrics(at)["0.9^50"] == f"{0.9**50:.6g}"
    assert shown_metrics(at)["1.1^50"] == f"{1.1**50:.6g}"


def test_jacobian_chart_has_three_activations_and_follows_the_sliders(at: AppTest) -> None:
    jac = chart_specs(at)[1]
    assert [t["name"] for t in jac["data"]] == ["tanh", "sigmoid", "relu"]
    assert len(plotly_values(jac["data"][0]["x"])) == 101  # distances 0..T with T = 100
    assert "谱范数" in jac["layout"]["title"]["text"]
    deriv = chart_specs(at)[2]
    assert any("0.25" in str(t.get("text")) for t in deriv["data"])
    at.slider(key="grad_rho").set_value(0.8).run()
    at.slider(key="grad_jac_T").set_value(40).run()
    at.radio(key="grad_norm").set_value("fro").run()
    assert not at.exception
    jac = chart_specs(at)[1]
    assert len(plotly_values(jac["data"][0]["x"])) == 41
    assert "Frobenius" in jac["layout"]["title"]["text"] and "0.8" in jac["layout"]["title"]["text"]
    # With ρ < 1 every activation's product shrinks far below 1 over 40 steps.
    assert all(not plotly_values(t["y"])[-1] >= 1e-3 for t in jac["data"])  # nan (underflow) or small


def test_clipping_run_diverges_without_and_trains_with_clipping(at: AppTest) -> None:
    metrics = shown_metrics(at)
    assert "发散" in metrics["不裁剪"]
    assert metrics["按范数"].startswith("最终损失")
    at.select_slider(key="grad_clip").set_value(5.0).run()
    assert not at.exception
    clip_fig = chart_specs(at)[3]
    names = {t["name"] for t in clip_fig["data"] if t.get("showlegend", True)}
    assert {"不裁剪", "按范数裁剪 (5)", "按值裁剪 (5)"} <= names
    geometry = chart_specs(at)[4]
    assert any("方向不变" in t["name"] for t in geometry["data"])


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "Vanishing and exploding gradients"
    metrics = shown_metrics(at)
    assert "diverged at step" in metrics["no clipping"]
    assert "13780.6" in at.latex[0].value
