"""Lesson: the LSTM (and the GRU) one token at a time, with a model's real numbers."""

import streamlit as st

from rnnviz.content import literal
from rnnviz.errors import RnnVizError
from rnnviz.lessons import gating as gt
from rnnviz.lessons import steps
from rnnviz.lessons.quiz import Question
from ui.lang import page_text
from ui.lesson import lesson_end
from ui.models import demo_network, shipped_by_cell
from ui.quiz import ask

words = page_text("lstm_steps")
DEMO = "demo"

st.title(words("title"))
st.markdown(words("intro"))
kind = st.radio(words("kind"), steps.STEP_KINDS, format_func=str.upper, key="steps_kind",
                horizontal=True)
st.latex(steps.EQUATIONS[kind])
st.caption(words(f"legend.{kind}"))


shipped, longdep = {}, {}
try:
    shipped = shipped_by_cell(kind)
except RnnVizError as err:
    st.error(str(err))
try:
    longdep = steps.shipped_longdep(kind)
except RnnVizError as err:
    st.error(str(err))
# Labels made now, in this run's language (a widget may call format_func later).
labels = ({c: words("model.shipped", name=c) for c in shipped}
          | {c: words("model.longdep", kind=kind.upper(), T=t.length) for c, t in longdep.items()}
          | {DEMO: words("model.demo")})
source = st.selectbox(words("model"), list(labels), key=f"steps_model_{kind}",
                      format_func=labels.__getitem__)
try:
    if source in longdep:
        trained = longdep[source]
        module = trained.models[kind].rnn
        seed = st.number_input(words("sequence"), 0, 9999, 0, key="steps_sequence")
        tokens, x, label = steps.longdep_inputs(trained, kind, int(seed))
    else:
        text = st.text_input(words("text"), gt.EXAMPLE_TEXTS[0], key="steps_text",
                             max_chars=200)
        if source == DEMO:
            module = demo_network(kind).rnn
            tokens, x = steps.demo_inputs(demo_network(kind), text)
        else:
            module = shipped[source].model.rnn
            tokens, x = steps.classifier_inputs(shipped[source], text)
except RnnVizError as err:
    st.error(str(err))
    st.stop()
layer = 0
if module.num_layers > 1:
    layers = {k: words("layer.option", layer=k + 1, k=k) for k in range(module.num_layers)}
    layer = st.selectbox(words("layer"), list(layers), key="steps_layer",
                         format_func=layers.__getitem__)
if source == DEMO:
    st.warning(words("source.demo", kind=kind.upper()))
    if not shipped and not longdep:
        st.info(words("source.none", kind=kind.upper()))
elif source in longdep:
    st.success(words("source.longdep", kind=kind.upper(), T=trained.length,
                     acc=trained.accuracy[kind], label=label))
else:
    st.success(words("source.shipped", name=source, layer=layer + 1, k=layer))

T = len(tokens)
# Keep the chosen token inside a (possibly shorter) new text.
st.session_state["steps_t"] = min(max(st.session_state.get("steps_t", 1), 1), T)


def _move(by: int) -> None:
    st.session_state["steps_t"] = min(max(st.session_state["steps_t"] + by, 1), T)


back, slider, ahead = st.columns([1, 4, 1], vertical_alignment="bottom")
back.button(words("prev"), key="steps_prev", on_click=_move, args=(-1,), disabled=T == 1,
            width="stretch")
t = slider.slider(words("token"), 1, max(T, 2), key="steps_t", disabled=T == 1)
ahead.button(words("next"), key="steps_next", on_click=_move, args=(1,), disabled=T == 1,
             width="stretch")

run = steps.trace(module, x)
step = steps.step_at(module, x, tokens, t - 1, layer, run)
modes = {m: words(f"units.mode.{m}") for m in ("active", "chosen")}
mode = st.radio(words("units.mode"), list(modes), key="steps_units_mode", horizontal=True,
                format_func=modes.__getitem__)
units = steps.most_active(step, 4)
if mode == "chosen":
    H = step.hidden_size
    if any(u >= H for u in st.session_state.get("steps_units", [H])):
        st.session_state["steps_units"] = units
    units = st.multiselect(words("units"), list(range(H)), key="steps_units",
                           max_selections=steps.MAX_UNITS)
    if not units:
        st.warning(words("units.none"))
        st.stop()
tex = steps.step_latex(step, units)
st.markdown(words("reads", t=t, token=literal(step.token), units=", ".join(map(str, units))))


def show(name: str) -> None:
    st.subheader(words(f"{kind}.{name}.header"))
    st.markdown(words(f"{kind}.{name}"))
    st.latex(tex[name])


u, o = units[0], step.out
where = {"unit": u, "token": literal(step.token)}
if kind == "lstm":
    show("forget")
    show("input")
    if ask(words, Question("q_cell", answer="grow" if steps.cell_grows(step, u) else "shrink",
                           options=("grow", "shrink"),
                           values={**where, "f": o["f"][u], "c_prev": step.c_prev[u],
                                   "i": o["i"][u], "g": o["g"][u], "c": o["c"][u]})):
        show("cell")
        a = step.terms["o"].pre[u]
        if ask(words, Question("q_output", options=("yes", "no"),
                               answer="yes" if steps.output_more_than_half_open(step, u) else "no",
                               values={**where, "a": a, "o": o["o"][u]})):
            show("output")
else:
    show("reset")
    show("update")
    n = step.terms["n"]
    share = steps.reset_share(step, u)
    if ask(words, Question("q_reset", answer=share, rel_tol=0.05, abs_tol=0.01, fmt=".3f",
                           values={**where, "r": o["r"][u], "hh": n.Wh[u] + n.b_h[u],
                                   "share": share})):
        show("candidate")
        keep = steps.keeps_more_of_the_old_state(step, u)
        if ask(words, Question("q_keep", answer="old" if keep else "candidate",
                               options=("old", "candidate"),
                               values={**where, "z": o["z"][u], "one_minus_z": 1 - o["z"][u]})):
            show("hidden")

lesson_end(words)
