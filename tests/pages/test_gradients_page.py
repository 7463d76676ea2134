"""The gradients page: live powers, Jacobian norms, clipping run; both languages."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "pages/gradients.py"


def _values(v: object) -> np.ndarray:
    """A trace array from the chart JSON: plotly sends numpy arrays as base64 typed arrays."""
    if isinstance(v, dict) and "bdata" in v:
        arr = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return arr.reshape([int(n) for n in v["shape"].split(",")]) if "shape" in v else arr
    return np.array(v, dtype=float)  # None (a gap) -> nan


def _open() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    # The page must run inside app.py (shared sidebar, language switch). Streamlit runs a file
    # in pages/ on its own (legacy pages-directory mode) when its st.Page url_path equals the
    # file's stem, so app.py must give this page a url_path different from its file name.
    assert "lang" in at.session_state, "app.py did not run: url_path equals the file stem?"
    return at


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_defaults_show_the_two_powers() -> None:
    at = _open()
    assert "0.366" in at.latex[0].value and "13780.6" in at.latex[0].value
    metrics = _metrics(at)
    assert metrics["0.99^100"].startswith("0.366")
    assert metrics["1.1^100"] == "13780.6"
    power_fig = _figures(at)[0]
    names = [t["name"] for t in power_fig["data"]]
    assert names == ["0.99<sup>t</sup>", "1.1<sup>t</sup>"]
    assert math.isclose(_values(power_fig["data"][1]["y"])[-1], 1.1**100, rel_tol=1e-9)
    assert power_fig["layout"]["yaxis"]["type"] == "log"
    assert len(at.get("plotly_chart")) == 5
    assert at.get("page_link")


def test_chosen_factor_and_T_are_computed_live() -> None:
    at = _open()
    at.slider(key="grad_factor_a").set_value(0.9).run()
    at.slider(key="grad_T").set_value(50).run()
    assert not at.exception
    assert _metrics(at)["0.9^50"] == f"{0.9**50:.6g}"
    assert _metrics(at)["1.1^50"] == f"{1.1**50:.6g}"


def test_jacobian_chart_has_three_activations_and_follows_the_sliders() -> None:
    at = _open()
    jac = _figures(at)[1]
    assert [t["name"] for t in jac["data"]] == ["tanh", "sigmoid", "relu"]
    assert len(_values(jac["data"][0]["x"])) == 101  # distances 0..T with T = 100
    assert "谱范数" in jac["layout"]["title"]["text"]
    deriv = _figures(at)[2]
    assert any("0.25" in str(t.get("text")) for t in deriv["data"])
    at.slider(key="grad_rho").set_value(0.8).run()
    at.slider(key="grad_jac_T").set_value(40).run()
    at.radio(key="grad_norm").set_value("fro").run()
    assert not at.exception
    jac = _figures(at)[1]
    assert len(_values(jac["data"][0]["x"])) == 41
    assert "Frobenius" in jac["layout"]["title"]["text"] and "0.8" in jac["layout"]["title"]["text"]
    # With ρ < 1 every activation's product shrinks far below 1 over 40 steps.
    assert all(not _values(t["y"])[-1] >= 1e-3 for t in jac["data"])  # nan (underflow) or small


def test_clipping_run_diverges_without_and_trains_with_clipping() -> None:
    at = _open()
    metrics = _metrics(at)
    assert "发散" in metrics["不裁剪"]
    assert metrics["按范数"].startswith("最终损失")
    at.select_slider(key="grad_clip").set_value(5.0).run()
    assert not at.exception
    clip_fig = _figures(at)[3]
    names = {t["name"] for t in clip_fig["data"] if t.get("showlegend", True)}
    assert {"不裁剪", "按范数裁剪 (5)", "按值裁剪 (5)"} <= names
    geometry = _figures(at)[4]
    assert any("方向不变" in t["name"] for t in geometry["data"])


def test_english() -> None:
    at = _open()
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "Vanishing and exploding gradients"
    metrics = _metrics(at)
    assert "diverged at step" in metrics["no clipping"]
    assert "13780.6" in at.latex[0].value
