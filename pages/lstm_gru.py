"""Lesson 5: LSTM and GRU — the gates one by one over a text or a trained network's input, and
what trained gates learn to keep."""

import inspect

import streamlit as st

from rnnviz.core import cells
from rnnviz.core.cells import GATES, NUM_GATES, gate_label, param_count
from rnnviz.errors import RnnVizError
from rnnviz.lessons import gating as gt
from rnnviz.lessons.longdep_models import load_shipped as load_longdep
from rnnviz.lessons.memory import (
    KEEP_GATE,
    best_keeper,
    common_steps,
    memory_of,
    memory_rows,
    task_view,
)
from rnnviz.lessons.quiz import Question
from rnnviz.plots import gates as plots
from ui.lang import lang, page_text
from ui.lesson import lesson_end
from ui.models import demo_network, shipped_by_cell
from ui.quiz import ask

words = page_text("lstm_gru")
LONGDEP_T = 60  # the long-dependency models shown here were trained at T = 60 ...
LONGDEP_SEED = 0  # ... and read this sequence of their task
BIAS_KEY = "gates_bias"

st.title(words("title"))
st.markdown(words("background"))
kind = st.radio(words("cell"), ["lstm", "gru"], format_func=str.upper, key="gates_kind",
                horizontal=True)
KIND = kind.upper()
left, right = st.columns([3, 2])
cell_figure = plots.lstm_cell_figure if kind == "lstm" else plots.gru_cell_figure
left.plotly_chart(cell_figure(lang()), width="stretch")
# The LSTM in the course's order (forget, input, update the cell, output: colah's
# "Understanding LSTM Networks"; the forget gate is Gers, Schmidhuber & Cummins 2000); the GRU
# as torch computes it (Cho et al. 2014 and d2l.ai 10.2 put r_t before W_n: see the legend).
right.markdown(words(f"equations.{kind}"))
right.caption(words(f"legend.{kind}"))
st.markdown(words(f"gates.{kind}"))


def _classifier_views(text: str, kind: str) -> list[gt.GateView] | None:
    """The gates over ``text`` of the first shipped news classifier with ``kind`` cells (else of
    any shipped one, so the page can say which cell it has); None when none is installed."""
    found = shipped_by_cell(kind) or shipped_by_cell()
    predictor = next(iter(found.values()), None)
    return gt.views_from_prediction(predictor.predict(text)) if predictor is not None else None


st.header(words("time.header"))
c1, c2 = st.columns([2, 1])
st.session_state.setdefault("gates_text", gt.EXAMPLE_TEXTS[0])


def _take_example() -> None:
    st.session_state["gates_text"] = st.session_state["gates_example"]


c1.selectbox(words("example"), gt.EXAMPLE_TEXTS, key="gates_example", on_change=_take_example)
text = c1.text_input(words("text"), key="gates_text", max_chars=200)
bias = float(st.session_state.get(BIAS_KEY, 0.0))  # its slider sits by the memory chart below
try:
    gt.demo_tokens(text)
    every_view = _classifier_views(text, kind)
    demo_tokens, demo_trace = gt.trace_text(demo_network(kind, gate_bias=bias), text)
    demo_views = gt.views_from_trace(demo_trace, demo_tokens)
except RnnVizError as err:
    st.error(str(err))
    st.stop()
classifier_views = [v for v in every_view or [] if v.kind == kind]
sources = (["classifier"] if classifier_views else []) + ["longdep", "demo"]
source = c2.radio(words("source"), sources, key=f"gates_source_{kind}",
                  format_func=lambda s: words(f"source.{s}", kind=KIND, T=LONGDEP_T))
if not classifier_views:  # say why the trained classifier is not among the choices
    if every_view is None:
        c2.caption(words("no_classifier"))
    else:
        c2.caption(words("other_classifier", kind=KIND, shipped=every_view[0].kind.upper()))
if source == "classifier":
    views = classifier_views
    st.success(words("shown.classifier"))
elif source == "longdep":
    views = [task_view(load_longdep(LONGDEP_T), kind, LONGDEP_SEED)]
    st.success(words("shown.longdep", kind=KIND, T=LONGDEP_T))
else:
    views = demo_views
    st.info(words("shown.demo", kind=KIND, bias=bias))
choices = [(v.layer, v.direction) for v in views]
layer, direction = choices[0]
if len(choices) > 1:
    layer, direction = st.selectbox(
        words("layer"), choices, key="gates_layer",
        format_func=lambda c: words("layer.option", layer=c[0] + 1,
                                    direction=words(f"direction.{c[1]}")))
view = gt.pick_view(views, layer, direction)
mode = st.radio(words("mode"), ["mean", "units"], horizontal=True, key="gates_mode",
                format_func=lambda m: words(f"mode.{m}"))
fig_col, code_col = st.columns([3, 2])
if mode == "mean":
    fig = plots.gate_means_figure(view, lang())
else:
    gate = fig_col.selectbox(words("gate"), GATES[kind], key="gates_gate",
                             format_func=lambda g: gate_label(kind, g, lang()))
    fig = plots.gate_units_figure(view, gate, lang())
fig_col.plotly_chart(fig, width="stretch", key="gates_heatmap")
code_col.caption(words("code.caption"))
code_col.code(inspect.getsource(cells.lstm_step if kind == "lstm" else cells.gru_step),
              language="python")
st.dataframe(gt.gate_summary(view, lang()), hide_index=True)

# ---- the direct path, and what trained gates keep ----------------------------------------
st.header(words("memory.header"))
# The direct (cell) path only: the full Jacobian has terms through h_{t-1} and the gates
# (Goodfellow et al. 2016, sec. 10.10); the words beside it say so.
st.latex(words(f"memory.latex.{kind}"))
st.markdown(words(f"memory.{kind}"))
keep = KEEP_GATE[kind]
longdep = load_longdep(LONGDEP_T)
memories = [memory_of("longdep", kind, task_view(longdep, kind, LONGDEP_SEED).states[keep])]
if classifier_views:  # layer 1 forward: the layer that reads the characters, in reading order
    memories.insert(0, memory_of("classifier", kind,
                                 gt.pick_view(classifier_views, 0, "forward").states[keep]))
if len(demo_views[0].tokens) > 1:
    memories.append(memory_of("demo", kind, demo_views[0].states[keep]))
d = common_steps(memories)
# The answer follows the slider and the text; while it stays the same, the chart stays open
# and moves with them (the question's values are only what its words show).
if d < 1:
    st.info(words("memory.short"))
elif ask(words, Question("q_keep", answer=best_keeper(memories, d),
                         options=tuple(m.source for m in memories),
                         values={"kind": KIND, "T": LONGDEP_T, "d": d})):
    st.plotly_chart(plots.memory_figure(memories, lang()), width="stretch", key="gates_path")
    st.dataframe(memory_rows(memories, d, lang()), hide_index=True)
    init = memory_of("longdep", kind,
                     task_view(longdep, kind, LONGDEP_SEED, before_training=True).states[keep])
    for m in memories:
        st.markdown(words(f"memory.story.{m.source}.{kind}", d=d, mean=m.keep_mean,
                          p=m.at(d), p_all=m.at(m.steps), steps=m.steps, bias=bias,
                          T=LONGDEP_T, best=m.best_at(m.steps), mean_init=init.keep_mean,
                          best_init=init.best_at(init.steps)))
st.slider(words("bias"), 0.0, 4.0, 0.0, 0.5, key=BIAS_KEY, help=words("bias.help"))
st.markdown(words("limits"))

st.header(words("params.header"))
p1, p2 = st.columns(2)
I = int(p1.number_input(words("params.I"), 1, 4096, 128, key="gates_input"))  # noqa: E741
H = int(p2.number_input(words("params.H"), 1, 4096, 128, key="gates_hidden"))
if ask(words, Question("q_params", answer=param_count(kind, I, H), rel_tol=0.01, fmt=".0f",
                       values={"kind": KIND, "I": I, "H": H, "G": NUM_GATES[kind]})):
    st.dataframe(gt.param_table(I, H, lang()), hide_index=True)
    st.caption(words("params.caption"))

st.subheader(words("pros_cons.header"))
st.markdown(words("pros_cons"))
lesson_end(words)
