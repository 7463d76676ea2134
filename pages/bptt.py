"""Lesson 2: backpropagation through time — the derivation, a hand-written BPTT checked against
autograd, how far the gradient reaches in RNN / LSTM / GRU, and truncated BPTT."""

import inspect

import numpy as np
import streamlit as st

from rnnviz.lessons.bptt import (
    CELL_KINDS,
    DERIVATION,
    bptt_gradients,
    cell_gradient_norms,
    compare_with_autograd,
    derivation_steps,
    hidden_contributions,
    hidden_gradient_norms,
    random_params,
    random_sequence,
    relative_change,
    truncation_windows,
)
from rnnviz.lessons.quiz import Question
from rnnviz.lessons.unrolled import ACTIVATIONS
from rnnviz.plots.bptt import CELL_NAMES, check_table, contributions_figure, grad_norm_figure
from ui.lang import lang, page_text
from ui.lesson import lesson_end
from ui.quiz import ask

words = page_text("bptt")

TOLERANCE = 1e-10
CHECK_T = 12  # sequence length of the hand-vs-autograd check
TRUNC_T = 24  # sequence length of the truncation picture
UNROLL_STEP = DERIVATION.index("unroll") + 1  # the step that finds ∂h_k/∂h_{k-1}

st.title(words("title"))
st.markdown(words("intro", unroll=UNROLL_STEP))
for i, (text, tex) in enumerate(derivation_steps(lang()), start=1):
    st.markdown(f"**{i}.** {text}")
    st.latex(tex)

st.header(words("check.header"))
params = random_params()
x, y = random_sequence(CHECK_T)
st.markdown(words("check.intro", H=params.W.shape[0], T=CHECK_T))
act = st.radio(words("check.activation"), ACTIVATIONS, key="bptt_act", horizontal=True)
rows = compare_with_autograd(params, x, y, act)
worst = max(r.max_abs_diff for r in rows)
st.dataframe(check_table(rows, TOLERANCE, lang()), hide_index=True)
st.metric(words("check.worst"), f"{worst:.2e}")
if worst < TOLERANCE:
    st.success(words("check.ok", worst=worst, tol=TOLERANCE))
else:
    st.error(words("check.bad", worst=worst, tol=TOLERANCE))
with st.expander(words("check.code")):
    st.code(inspect.getsource(bptt_gradients), language="python")


@st.cache_data(max_entries=64, show_spinner=False)
def _reach(T: int, gate_bias: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """‖∂L/∂h_t‖ per cell kind and the LSTM's ‖∂L/∂c_t‖."""
    norms = {kind: hidden_gradient_norms(kind, T, gate_bias=gate_bias) for kind in CELL_KINDS}
    return norms, cell_gradient_norms(T, gate_bias=gate_bias)


st.header(words("reach.header"))
st.markdown(words("reach.intro", unroll=UNROLL_STEP))


@st.fragment
def reach() -> None:
    c1, c2 = st.columns(2)
    T = c1.slider(words("reach.T"), 10, 200, 100, 10, key="bptt_len")
    bias = c2.slider(words("reach.bias"), 0.0, 5.0, 1.0, 0.5, key="bptt_gate_bias")
    st.caption(words("reach.caption"))
    # The LSTM's cell gradient shows the constant error carousel of Hochreiter & Schmidhuber
    # (1997): along c_t -> c_{t+1} each step back multiplies by f_{t+1} alone (d2l.ai 10.1).
    norms, cell = _reach(T, bias)
    first = {kind: float(values[0]) for kind, values in norms.items()}
    best = max(first, key=first.__getitem__)
    if not ask(words, Question("q_reach", answer=best, options=tuple(norms),
                               values={"T": T, "bias": bias, "steps": T - 1, **first})):
        return
    st.plotly_chart(grad_norm_figure(norms, lang(), cell=cell), width="stretch",
                    key="bptt_reach_chart")
    cols = st.columns(len(norms) + 1)
    for col, (kind, value) in zip(cols, first.items(), strict=False):
        col.metric(words("reach.metric.h", cell=CELL_NAMES[kind]), f"{value:.2e}")
    cols[-1].metric(words("reach.metric.c"), f"{cell[0]:.2e}")
    st.markdown(words("reach.cec", c1=float(cell[0]), cT=float(cell[-1])))


reach()

st.header(words("trunc.header"))
st.markdown(words("trunc.intro"))


@st.fragment
def truncation() -> None:
    # Truncation as it is done in practice, detaching h between chunks of k steps (d2l.ai 9.7):
    # the loss at step t keeps only the pairs (t, s) inside its own window.
    k = st.slider(words("trunc.k"), 1, TRUNC_T, 6, key="bptt_k")
    p = random_params(seed=1)
    xs, ys = random_sequence(TRUNC_T, seed=1)
    full, cut = hidden_contributions(p, xs, ys), hidden_contributions(p, xs, ys, truncate=k)
    kept, total = int((cut > 0).sum()), int((full > 0).sum())
    sizes = " + ".join(map(str, truncation_windows(TRUNC_T, k)))
    values = {"T": TRUNC_T, "k": k, "full": total, "kept": kept, "sizes": sizes}
    if not ask(words, Question("q_kept", answer=kept, values=values, rel_tol=0)):
        return
    st.plotly_chart(contributions_figure(full, cut, k, lang()), width="stretch",
                    key="bptt_trunc_chart")
    change = relative_change(bptt_gradients(p, xs, ys), bptt_gradients(p, xs, ys, truncate=k), "W")
    c1, c2 = st.columns(2)
    c1.metric(words("trunc.kept"), f"{kept} / {total}")
    c2.metric(words("trunc.change"), f"{change:.2%}")
    if kept < total:
        st.caption(words("trunc.bias", k=k, change=change))
    else:
        st.caption(words("trunc.whole", k=k))


truncation()

lesson_end(words)
