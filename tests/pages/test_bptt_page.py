"""The BPTT page: derivation, hand-vs-autograd table, gradient reach, truncation; both languages."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "pages/bptt.py"
TRUNC_T = 24


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


def _assert_check_table_passes(at: AppTest) -> None:
    table = at.dataframe[0].value
    assert list(table.iloc[:, 0]) == ["∂L/∂U", "∂L/∂W", "∂L/∂V", "∂L/∂b", "∂L/∂c"]
    diffs = table.iloc[:, 3].astype(float)
    assert (diffs < 1e-10).all()
    assert (table.iloc[:, 4] == "✅").all()
    worst = float(next(v for k, v in _metrics(at).items() if "最大绝对差" in k or "Largest" in k))
    assert worst == diffs.max() or abs(worst - diffs.max()) < 1e-17
    assert worst < 1e-10


def test_defaults_show_derivation_check_and_charts() -> None:
    at = _open()
    latex = " ".join(e.value for e in at.latex)
    assert len(at.latex) >= 6
    for term in (r"\frac{\partial L}{\partial V}", r"\frac{\partial L}{\partial W}", r"\delta_t"):
        assert term in latex
    _assert_check_table_passes(at)
    reach, trunc = _figures(at)
    assert [t["name"] for t in reach["data"]] == ["RNN", "LSTM", "GRU"]
    assert reach["layout"]["yaxis"]["type"] == "log"
    assert all(len(_values(t["x"])) == 100 for t in reach["data"])
    rnn, lstm = (_values(t["y"]) for t in reach["data"][:2])
    assert rnn[0] < lstm[0]  # the plain RNN's gradient at t = 1 is the smallest
    assert len(trunc["data"]) == 2  # full and truncated heatmaps
    assert at.expander and "def bptt_gradients" in at.code[0].value


def test_activation_change_keeps_agreement() -> None:
    at = _open()
    for act in ("relu", "sigmoid"):
        at.radio(key="bptt_act").set_value(act).run()
        assert not at.exception
        _assert_check_table_passes(at)


def test_length_and_gate_bias_sliders() -> None:
    at = _open()
    before = _values(_figures(at)[0]["data"][1]["y"])[0]
    at.slider(key="bptt_len").set_value(200).run()
    at.slider(key="bptt_gate_bias").set_value(0.0).run()
    assert not at.exception
    reach = _figures(at)[0]
    assert all(len(_values(t["x"])) == 200 for t in reach["data"])
    # A closed forget gate and twice the distance: the LSTM's gradient at t = 1 shrinks.
    assert _values(reach["data"][1]["y"])[0] < before


def _kept_pairs(T: int, k: int) -> int:
    """(t, s) pairs with s <= t in the same window of k steps: w(w+1)/2 per window of size w."""
    sizes = [min(k, T - start) for start in range(0, T, k)]
    return sum(w * (w + 1) // 2 for w in sizes)


def test_truncation_window_cuts_exactly_the_cross_window_terms() -> None:
    at = _open()
    for k in (3, 10, TRUNC_T):
        at.slider(key="bptt_k").set_value(k).run()
        assert not at.exception
        metrics = _metrics(at)
        full_pairs = TRUNC_T * (TRUNC_T + 1) // 2
        assert metrics["保留的 (t, s) 项"] == f"{_kept_pairs(TRUNC_T, k)} / {full_pairs}"
        truncated = _values(_figures(at)[1]["data"][1]["z"]).reshape(TRUNC_T, TRUNC_T)
        assert int(np.isfinite(truncated).sum()) == _kept_pairs(TRUNC_T, k)
        change = metrics["∂L/∂W 的相对变化"]
        assert (change == "0.00%") == (k == TRUNC_T)


def test_english() -> None:
    at = _open()
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value.startswith("BPTT: backpropagation")
    _assert_check_table_passes(at)
    assert "(t, s) terms kept" in _metrics(at)
