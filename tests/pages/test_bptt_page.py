"""The BPTT page: derivation, hand-vs-autograd table, gradient reach, truncation; both languages."""

from __future__ import annotations

import numpy as np
from apptest_helpers import chart_specs, plotly_values, shown_metrics
from streamlit.testing.v1 import AppTest

PAGE = "pages/bptt.py"
TRUNC_T = 24


def _assert_check_table_passes(at: AppTest) -> None:
    table = at.dataframe[0].value
    assert list(table.iloc[:, 0]) == ["∂L/∂U", "∂L/∂W", "∂L/∂V", "∂L/∂b", "∂L/∂c"]
    diffs = table.iloc[:, 3].astype(float)
    assert (diffs < 1e-10).all()
    assert (table.iloc[:, 4] == "✅").all()
    worst = float(next(v for k, v in shown_metrics(at).items() if "最大绝对差" in k or "Largest" in k))
    assert worst == diffs.max() or abs(worst - diffs.max()) < 1e-17
    assert worst < 1e-10


def test_defaults_show_derivation_check_and_charts(at: AppTest) -> None:
    latex = " ".join(e.value for e in at.latex)
    assert len(at.latex) >= 6
    for term in (r"\frac{\partial L}{\partial V}", r"\frac{\partial L}{\partial W}", r"\delta_t"):
        assert term in latex
    _assert_check_table_passes(at)
    reach, trunc = chart_specs(at)
    assert [t["name"] for t in reach["data"]] == ["RNN", "LSTM", "GRU"]
    assert reach["layout"]["yaxis"]["type"] == "log"
    assert all(len(plotly_values(t["x"])) == 100 for t in reach["data"])
    rnn, lstm = (plotly_values(t["y"]) for t in reach["data"][:2])
    assert rnn[0] < lstm[0]  # the plain RNN's gradient at t = 1 is the smallest
    assert len(trunc["data"]) == 2  # full and truncated heatmaps
    assert at.expander and "def bptt_gradients" in at.code[0].value


def test_activation_change_keeps_agreement(at: AppTest) -> None:
    for act in ("relu", "sigmoid"):
        at.radio(key="bptt_act").set_value(act).run()
        assert not at.exception
        _assert_check_table_passes(at)


def test_length_and_gate_bias_sliders(at: AppTest) -> None:
    before = plotly_values(chart_specs(at)[0]["data"][1]["y"])[0]
    at.slider(key="bptt_len").set_value(200).run()
    at.slider(key="bptt_gate_bias").set_value(0.0).run()
    assert not at.exception
    reach = chart_specs(at)[0]
    assert all(len(plotly_values(t["x"])) == 200 for t in reach["data"])
    # A closed forget gate and twice the distance: the LSTM's gradient at t = 1 shrinks.
    assert plotly_values(reach["data"][1]["y"])[0] < before


def _kept_pairs(T: int, k: int) -> int:
    """(t, s) pairs with s <= t in the same window of k steps: w(w+1)/2 per window of size w."""
    sizes = [min(k, T - start) for start in range(0, T, k)]
    return sum(w * (w + 1) // 2 for w in sizes)


def test_truncation_window_cuts_exactly_the_cross_window_terms(at: AppTest) -> None:
    for k in (3, 10, TRUNC_T):
        at.slider(key="bptt_k").set_value(k).run()
        assert not at.exception
        metrics = shown_metrics(at)
        full_pairs = TRUNC_T * (TRUNC_T + 1) // 2
        assert metrics["保留的 (t, s) 项"] == f"{_kept_pairs(TRUNC_T, k)} / {full_pairs}"
        truncated = plotly_values(chart_specs(at)[1]["data"][1]["z"]).reshape(TRUNC_T, TRUNC_T)
        assert int(np.isfinite(truncated).sum()) == _kept_pairs(TRUNC_T, k)
        change = metrics["∂L/∂W 的相对变化"]
        assert (change == "0.00%") == (k == TRUNC_T)


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value.startswith("BPTT: backpropagation")
    _assert_check_table_passes(at)
    assert "(t, s) terms kept" in shown_metrics(at)
