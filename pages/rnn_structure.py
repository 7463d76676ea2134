"""Lesson 1: the RNN structure — why RNNs, the folded and unrolled network, a small RNN stepped
live, and what "recursive" means beside "recurrent"."""

import numpy as np
import streamlit as st

from rnnviz.content import literal
from rnnviz.errors import RnnVizError
from rnnviz.lessons.quiz import Question
from rnnviz.lessons.unrolled import (
    ACTIVATIONS,
    demo_rnn,
    embed_text,
    repeated_character,
    run_rnn,
    step_latex,
    step_terms,
)
from rnnviz.plots.structure import MAX_UNROLL, WEIGHTS, hidden_heatmap, rnn_diagram
from ui.lang import lang, page_text
from ui.lesson import lesson_end
from ui.quiz import ask
from ui.route import stop

words = page_text("rnn_structure")

st.title(words("title"))
st.header(words("why.header"))
st.markdown(words("why"))

st.header(words("unrolled.header"))
st.latex(r"h_t = f(U x_t + W h_{t-1} + b), \qquad o_t = V h_t + c")


@st.fragment
def diagram() -> None:
    left, right = st.columns([1, 1])
    T = left.slider(words("unrolled.T"), 1, MAX_UNROLL, 4, key="structure_T")
    weight = right.radio(words("unrolled.weight"), WEIGHTS, key="structure_weight",
                         horizontal=True, index=1)
    # W carries h_{t-1} to h_t once per step, h_0 -> h_1 included: T uses of one matrix.
    ask(words, Question("q_uses", answer=T, values={"T": T}, rel_tol=0))
    st.plotly_chart(rnn_diagram(T, weight, lang()), width="stretch", key="structure_diagram")
    st.info(words(f"unrolled.weight.{weight}") + " " + words("unrolled.shared", T=T))


diagram()

st.header(words("demo.header"))
st.markdown(words("demo"))


@st.fragment
def demo() -> None:
    left, right = st.columns([2, 1])
    text = left.text_input(words("demo.text"), words("demo.default_text"), key="structure_text")
    act = right.radio(words("demo.activation"), ACTIVATIONS, key="structure_act",
                      horizontal=True)
    try:
        chars, x = embed_text(text)
    except RnnVizError as exc:
        st.error(str(exc))
        return
    model = demo_rnn(input_size=x.shape[1], activation=act)
    run = run_rnn(model, x)
    T = len(chars)
    repeat = repeated_character(chars)
    if repeat is None:
        st.caption(words("q_same.no_repeat"))
    else:
        ch, first, second = repeat
        same = bool(np.allclose(run.h[first - 1], run.h[second - 1]))
        ask(words, Question("q_same", answer="same" if same else "different",
                            options=("same", "different"),
                            values={"ch": literal(ch), "first": first, "second": second}))
    # Keep the chosen step inside the (possibly shorter) new text.
    st.session_state["structure_step"] = min(st.session_state.get("structure_step", 3), T)
    t = st.slider(words("demo.step"), 1, max(T, 2), key="structure_step", disabled=T == 1)
    st.plotly_chart(hidden_heatmap(run.h, chars, t, lang()), width="stretch",
                    key="structure_heatmap")
    st.markdown(words("demo.reads", t=t, ch=literal(chars[t - 1])))
    st.latex(step_latex(model, step_terms(model, run, t)))
    if act != "tanh":
        st.caption(words(f"demo.note.{act}"))


demo()

st.header(words("recursive.header"))
st.markdown(words("recursive", lesson=stop("recursive").title(lang())))

st.header(words("pros_cons.header"))
good, bad = st.columns(2)
good.success(words("pros"))
bad.warning(words("cons"))

lesson_end(words)
