"""The BPTT page: derivation, hand-vs-autograd table, gradient reach (h and the LSTM's cell),
truncation, its two questions; both languages."""

from __future__ import annotations

import numpy as np
import pytest
from apptest_helpers import answer_question, chart_specs, open_page, plotly_values
from apptest_helpers import shown_metrics as metrics
from streamlit.testing.v1 import AppTest

from rnnviz.content import text
from rnnviz.lessons.bptt import cell_gradient_norms, hidden_gradient_norms

PAGE = "pages/bptt.py"
TRUNC_T = 24


def _words(key: str, lang: str = "zh", **values: object) -> str:
    return text(lang, "bptt", key, **values)


def _questions_off(at: AppTest) -> AppTest:
    return at.sidebar.toggle(key="quiz_on").set_value(False).run()


def _assert_check_table_passes(at: AppTest) -> None:
    table = at.dataframe[0].value
    assert list(table.iloc[:, 0]) == ["∂L/∂U", "∂L/∂W", "∂L/∂V", "∂L/∂b", "∂L/∂c"]
    diffs = table.iloc[:, 3].astype(float)
    assert (diffs < 1e-10).all()
    assert (table.iloc[:, 4] == "✅").all()
    label = next(k for k in metrics(at) if k in (_words("check.worst"),
                                                 _words("check.worst", "en")))
    worst = float(metrics(at)[label])
    assert worst == diffs.max() or abs(worst - diffs.max()) < 1e-17
    assert worst < 1e-10


def _first_step_norms(T: int, bias: float) -> dict[str, float]:
    return {k: float(hidden_gradient_norms(k, T, gate_bias=bias)[0])
            for k in ("rnn", "lstm", "gru")}


def test_defaults_show_derivation_and_check_and_ask_before_the_charts(at: AppTest) -> None:
    latex = " ".join(e.value for e in at.latex)
    assert len(at.latex) >= 6
    for term in (r"\frac{\partial L}{\partial V}", r"\frac{\partial L}{\partial W}", r"\delta_t",
                 r"J_t\, J_{t-1} \cdots J_{k+1}"):
        assert term in latex
    _assert_check_table_passes(at)
    assert any(_words("check.ok", worst=0.0, tol=1e-10)[:12] in s.value for s in at.success)
    # Both figures wait for their questions; the answers are not on the page yet.
    assert chart_specs(at) == []
    assert {w.key for w in [*at.radio, *at.number_input]} >= {"quiz_q_reach_choice",
                                                              "quiz_q_kept_number"}
    assert _words("trunc.kept") not in metrics(at)
    assert at.expander and "def bptt_gradients" in at.code[0].value
    assert at.get("page_link")


def test_activation_change_keeps_agreement(at: AppTest) -> None:
    for act in ("relu", "sigmoid"):
        at.radio(key="bptt_act").set_value(act).run()
        assert not at.exception
        _assert_check_table_passes(at)


def test_reach_question_names_the_cell_that_keeps_most_and_follows_the_sliders(
    at: AppTest,
) -> None:
    default = _first_step_norms(100, 1.0)
    assert max(default, key=default.get) == "lstm"  # at T = 100, bias 1
    answer_question(at, "q_reach", "rnn")
    assert not at.exception
    [shown] = [w.value for w in at.warning]
    assert shown.startswith("不对") and _words("q_reach.opt.lstm") in shown
    # The reveal: h lines of the three cells plus the LSTM's cell state, as computed.
    reach = chart_specs(at)[0]
    assert [t["name"] for t in reach["data"]] == ["RNN", "LSTM", "GRU",
                                                  text("zh", "plots/bptt", "reach.cell")]
    assert reach["layout"]["yaxis"]["type"] == "log"
    np.testing.assert_allclose(plotly_values(reach["data"][3]["y"]),
                               cell_gradient_norms(100, gate_bias=1.0), rtol=1e-12)
    assert metrics(at)["LSTM ‖∂L/∂c_1‖"] == f"{cell_gradient_norms(100, gate_bias=1.0)[0]:.2e}"
    # A more open gate: a new question, and this time the GRU keeps the most.
    at.slider(key="bptt_gate_bias").set_value(5.0).run()
    opened = _first_step_norms(100, 5.0)
    assert max(opened, key=opened.get) == "gru"
    assert chart_specs(at) == []  # asked again, the figure waits
    answer_question(at, "q_reach", "gru")
    assert any(s.value.startswith("答对了") and "GRU" in s.value for s in at.success)
    assert any(f"{opened['rnn']:.1e}" in c.value for c in at.caption)  # the why quotes them


def test_length_and_gate_bias_sliders(at: AppTest) -> None:
    _questions_off(at)
    before = plotly_values(chart_specs(at)[0]["data"][1]["y"])[0]
    at.slider(key="bptt_len").set_value(200).run()
    at.slider(key="bptt_gate_bias").set_value(0.0).run()
    assert not at.exception
    reach = chart_specs(at)[0]
    assert all(len(plotly_values(t["x"])) == 200 for t in reach["data"])
    # A closed forget gate and twice the distance: the LSTM's gradient at t = 1 shrinks.
    assert plotly_values(reach["data"][1]["y"])[0] < before
    # ... and so does its cell state's: no open forget gate, no carousel.
    cell = plotly_values(reach["data"][3]["y"])
    assert cell[0] < 1e-20 * cell[-1]


def _kept_pairs(T: int, k: int) -> int:
    """(t, s) pairs with s <= t in the same window of k steps: w(w+1)/2 per window of size w."""
    sizes = [min(k, T - start) for start in range(0, T, k)]
    return sum(w * (w + 1) // 2 for w in sizes)


def test_truncation_question_counts_the_kept_terms_for_the_chosen_window(at: AppTest) -> None:
    answer_question(at, "q_kept", _kept_pairs(TRUNC_T, 6))
    assert any(s.value.startswith("答对了") and str(_kept_pairs(TRUNC_T, 6)) in s.value
               for s in at.success)
    assert metrics(at)[_words("trunc.kept")] == f"{_kept_pairs(TRUNC_T, 6)} / 300"
    at.slider(key="bptt_k").set_value(5).run()  # a new window: asked again
    answer_question(at, "q_kept", _kept_pairs(TRUNC_T, 6))
    [shown] = [w.value for w in at.warning]
    assert str(_kept_pairs(TRUNC_T, 5)) in shown  # 4 windows of 5 and one of 4: 70
    assert any("5 + 5 + 5 + 5 + 4" in c.value for c in at.caption)


def test_truncation_window_cuts_exactly_the_cross_window_terms(at: AppTest) -> None:
    _questions_off(at)
    for k in (3, 10, TRUNC_T):
        at.slider(key="bptt_k").set_value(k).run()
        assert not at.exception
        shown = metrics(at)
        full_pairs = TRUNC_T * (TRUNC_T + 1) // 2
        assert shown[_words("trunc.kept")] == f"{_kept_pairs(TRUNC_T, k)} / {full_pairs}"
        truncated = plotly_values(chart_specs(at)[1]["data"][1]["z"]).reshape(TRUNC_T, TRUNC_T)
        assert int(np.isfinite(truncated).sum()) == _kept_pairs(TRUNC_T, k)
        change = shown[_words("trunc.change")]
        assert (change == "0.00%") == (k == TRUNC_T)
        # Only a window that cuts something is said to lose dependencies.
        whole = _words("trunc.whole", k=k)
        assert any(c.value == whole for c in at.caption) == (k == TRUNC_T)


def test_questions_off_show_every_figure(at: AppTest) -> None:
    _questions_off(at)
    assert not at.exception
    assert len(chart_specs(at)) == 2
    assert len([i for i in at.info if i.value.startswith("答案")]) == 2


@pytest.mark.parametrize("lang", ["en"])
def test_english(lang: str) -> None:
    at = open_page(PAGE)
    at.sidebar.radio(key="lang").set_value(lang).run()
    _questions_off(at)
    assert not at.exception
    assert at.title[0].value == _words("title", lang) == "BPTT: backpropagation through time"
    _assert_check_table_passes(at)
    assert "(t, s) terms kept" in metrics(at)
    assert chart_specs(at)[0]["layout"]["title"]["text"].startswith("Gradient left at step t")
