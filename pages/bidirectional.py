"""Lesson 6: bidirectional RNN — one pass each way, concatenated at every position."""

import streamlit as st

from rnnviz.content import literal
from rnnviz.errors import RnnVizError
from rnnviz.lessons import bidirectional as bd
from rnnviz.lessons import gating as gt
from rnnviz.lessons.quiz import Question
from rnnviz.plots import bidirectional as plots
from ui.lang import lang, page_text
from ui.lesson import lesson_end
from ui.models import demo_network, shipped_by_cell
from ui.quiz import ask

words = page_text("bidirectional")
SAME_TOL = 1e-6  # float rounding only: the forward states at a shared prefix are one computation

st.title(words("title"))
st.markdown(words("intro"))
# Schuster & Paliwal 1997; d2l.ai 10.4 writes the same two recurrences, one per direction.
st.latex(r"\overrightarrow{h}_t=f(\overrightarrow{U}x_t+\overrightarrow{W}\,\overrightarrow{h}_{t-1}"
         r"+\overrightarrow{b}),\quad"
         r"\overleftarrow{h}_t=f(\overleftarrow{U}x_t+\overleftarrow{W}\,\overleftarrow{h}_{t+1}"
         r"+\overleftarrow{b}),\quad y_t=[\overrightarrow{h}_t;\overleftarrow{h}_t]")
st.caption(words("legend"))


def _demo() -> gt.DemoNetwork:
    return demo_network("lstm", bidirectional=True)


st.header(words("blank.header"))
st.markdown(words("blank.intro"))
examples = bd.fill_blank_examples(lang())
pick = st.selectbox(words("blank.example"), range(len(examples)), key="bidir_example",
                    format_func=lambda i: examples[i].sentence)
example = examples[min(pick, len(examples) - 1)]
tokens, blank = example.tokens, example.blank
clue = example.clue_index
st.plotly_chart(plots.bidirectional_diagram(tokens, lang(), highlight=blank), width="stretch",
                key="bidir_diagram")
if ask(words, Question("q_clue", answer=bd.readers(len(tokens), blank, clue), options=bd.READERS,
                       values={"blank": literal(tokens[blank]), "clue": literal(example.clue),
                               "at": blank + 1, "pos": clue + 1, "T": len(tokens)})):
    left, right = bd.context_split(tokens, blank)
    c1, c2 = st.columns(2)
    c1.markdown(words("blank.forward", left=literal(left)))
    c2.markdown(words("blank.backward", right=literal(right)))
    shared = bd.shared_left_context(examples)
    if shared is not None:
        st.markdown(words("blank.shared", left=literal(shared), clue=literal(example.clue),
                          answer=literal(example.answer)))

fwd_at, bwd_at = bd.states_at_blank(_demo(), examples)
same = bd.max_spread(fwd_at) < SAME_TOL
if ask(words, Question("q_same", answer="same" if same else "different",
                       options=("same", "different"))):
    s1, s2 = st.columns(2)
    s1.metric(words("blank.spread.forward"), f"{bd.max_spread(fwd_at):.1e}")
    s2.metric(words("blank.spread.backward"), f"{bd.max_spread(bwd_at):.3f}")
    st.caption(words("blank.spread.caption"))

st.header(words("states.header"))
text = st.text_input(words("states.text"), gt.EXAMPLE_TEXTS[0], key="bidir_text", max_chars=200)


def _shipped(text: str) -> tuple[list[gt.GateView], object] | None:
    """(views, rnn module) of the first shipped bidirectional classifier, None if there is none."""
    for predictor in shipped_by_cell().values():
        views = gt.views_from_prediction(predictor.predict(text))
        if any(v.direction == "backward" for v in views):
            return views, predictor.model.rnn
    return None


try:
    shipped = _shipped(text)
    if shipped is not None:
        views, rnn = shipped
        st.success(words("states.shipped"))
    else:
        tokens_t, trace = gt.trace_text(_demo(), text)
        views, rnn = gt.views_from_trace(trace, tokens_t), _demo().rnn
        st.info(words("states.demo"))
except RnnVizError as err:
    st.error(str(err))
    st.stop()
fwd, bwd = bd.forward_backward(views)
toks = gt.pick_view(views).tokens
st.plotly_chart(plots.concat_states_figure(toks, fwd, bwd, lang()), width="stretch",
                key="bidir_concat")
st.plotly_chart(plots.direction_norms_figure(toks, bd.state_norms(fwd), bd.state_norms(bwd),
                                             lang()), width="stretch", key="bidir_norms")
st.caption(words("states.caption"))
if shipped is None:
    st.metric(words("states.check"), f"{bd.concat_matches_module(_demo(), text):.1e}")

st.header(words("weights.header"))
if rnn is None:
    rnn = _demo().rnn
    st.caption(words("weights.no_module"))
st.caption(words("weights.table"))
st.dataframe(bd.direction_weight_difference(rnn, lang=lang()), hide_index=True)
counts = bd.layer_param_counts(rnn, 0)
if ask(words, Question("q_params", answer=counts["layer"], rel_tol=0, fmt=",.0f",
                       values={"one": counts["forward"], "layer": counts["layer"]})):
    shown = ("per_direction", "forward"), ("layer", "layer"), ("module", "module")
    for col, (key, count) in zip(st.columns(len(shown)), shown, strict=True):
        col.metric(words(f"params.{key}"), f"{counts[count]:,}")
    st.caption(words("params.formula", G=counts["gates"], I=counts["inputs"],
                     H=rnn.hidden_size, formula=counts["formula"]))
st.markdown(words("weights.note.trained" if shipped is not None else "weights.note.demo"))

st.header(words("pros_cons.header"))
st.markdown(words("pros_cons"))
lesson_end(words)
