"""The RNN-structure page renders, reacts to its widgets and switches language."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from rnnviz.unrolled import demo_rnn, embed_text, run_rnn

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "pages/rnn_structure.py"
HIGHLIGHT = "#d62728"


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


def _red_arrows(fig: dict) -> int:
    return sum(1 for a in fig["layout"]["annotations"] if a.get("arrowcolor") == HIGHLIGHT)


def test_defaults_show_diagram_heatmap_and_equation() -> None:
    at = _open()
    diagram, heatmap = _figures(at)
    # Default T = 4 and W highlighted: W is used on 4 unrolled links plus the folded loop.
    assert _red_arrows(diagram) == 4 + 1
    h_texts = next(t["text"] for t in diagram["data"] if t["name"] == "隐藏状态 h")
    assert h_texts[-1] == "h<sub>4</sub>"
    assert heatmap["data"][0]["x"] == [f"{i} {ch}" for i, ch in enumerate("我爱自然语言处理", 1)]
    equation = at.latex[-1].value
    assert r"h_{3} &=" in equation and r"\tanh" in equation
    # The numbers printed last are h_3 of the demo RNN.
    _, x = embed_text("我爱自然语言处理")
    h_3 = run_rnn(demo_rnn(), x).h[2]
    shown = [float(v) for v in re.findall(r"-?\d+\.\d+", equation)][-6:]
    np.testing.assert_allclose(shown, h_3, atol=0.005 + 1e-12)
    assert at.get("page_link")


def test_weight_choice_and_unroll_length_redraw_the_diagram() -> None:
    at = _open()
    at.slider(key="structure_T").set_value(7).run()
    at.radio(key="structure_weight").set_value("U").run()
    assert not at.exception
    diagram = _figures(at)[0]
    assert _red_arrows(diagram) == 7 + 1  # U on every step, plus the folded picture
    x_texts = next(t["text"] for t in diagram["data"] if t["name"] == "输入 x")
    assert x_texts[-1] == "x<sub>7</sub>"


def test_text_activation_and_step_change_the_demo() -> None:
    at = _open()
    at.text_input(key="structure_text").set_value("循环网络").run()
    at.radio(key="structure_act").set_value("relu").run()
    at.slider(key="structure_step").set_value(4).run()
    assert not at.exception
    heatmap = _figures(at)[1]
    assert heatmap["data"][0]["x"] == ["1 循", "2 环", "3 网", "4 络"]
    equation = at.latex[-1].value
    assert r"h_{4} &=" in equation and "ReLU" in equation
    _, x = embed_text("循环网络")
    h_4 = run_rnn(demo_rnn(activation="relu"), x).h[3]
    shown = [float(v) for v in re.findall(r"-?\d+\.\d+", equation)][-6:]
    np.testing.assert_allclose(shown, h_4, atol=0.005 + 1e-12)


def test_shorter_text_keeps_step_in_range_and_empty_text_is_an_error() -> None:
    at = _open()
    at.slider(key="structure_step").set_value(8).run()
    at.text_input(key="structure_text").set_value("你好").run()
    assert not at.exception
    assert at.slider(key="structure_step").value == 2
    at.text_input(key="structure_text").set_value("   ").run()
    assert not at.exception
    assert at.error and "text" in at.error[0].value


def test_english() -> None:
    at = _open()
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value.startswith("RNN structure")
    assert any("Key points" in s.value for s in at.subheader)
    assert next(t for t in _figures(at)[0]["data"] if t["name"] == "hidden h")
