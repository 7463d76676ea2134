"""Classifier 1: Text-RNN — the principle drawn from the chosen configuration, trained live."""

import streamlit as st

from rnnviz.content import literal
from rnnviz.errors import RnnVizError
from rnnviz.lessons import ablation
from rnnviz.plots.classifier import architecture_figure
from rnnviz.plots.report import as_report
from ui.lang import lang, page_text
from ui.lesson import next_stop_link
from ui.models import load_shipped
from ui.training import model_widgets, training_mode, training_section

words = page_text("textrnn")

st.title(words("title"))
st.markdown(words("idea"))
st.latex(words("formula"))
st.markdown(words("bidirectional"))

st.header(words("arch.header"))
mode = training_mode("train")  # the class preset (default) or custom settings
config = model_widgets("train", "textrnn", mode)
st.plotly_chart(architecture_figure(config, lang()), width="stretch", key="train_architecture")
st.caption(words("arch.caption"))

training_section("train", config, mode)

# ---- the course's model vs ours: the two shipped files side by side, then the ladder ------
st.header(words("course.header"))
st.markdown(words("course.intro"))
try:
    pair = [load_shipped(name) for name in ("textgru", "textrnn")]
except RnnVizError as err:
    st.warning(words("course.error", error=literal(str(err))))
    pair = [None, None]
reports = [as_report(p.checkpoint.metrics) if p is not None else None for p in pair]
if reports[0] is None or reports[1] is None:
    st.info(words("course.missing"))
else:
    c1, c2 = st.columns(2)
    c1.metric(words("course.metric.course"), f"{reports[0].accuracy:.2%}")
    c2.metric(words("course.metric.ours"), f"{reports[1].accuracy:.2%}", delta=words(
        "course.delta", d=100 * (reports[1].accuracy - reports[0].accuracy)))
    st.dataframe(ablation.side_by_side(reports[0], reports[1], lang()), hide_index=True,
                 key="train_course_side")
    st.caption(words("course.side.caption", n=reports[0].n))
try:
    ladder = ablation.load_ladder()
except RnnVizError as err:
    st.error(words("ladder.error", error=literal(str(err))))
    ladder = None
if ladder is None:
    st.info(words("ladder.missing"))
else:
    st.subheader(words("ladder.header"))
    st.dataframe(ablation.ladder_rows(ladder, lang()), hide_index=True, key="train_ladder")
    st.caption(words("ladder.caption", epochs=ladder.train.get("epochs", "?"),
                     train=ladder.data.get("train", "?"), dev=ladder.data.get("dev", "?"),
                     biggest=ablation.rung_name(ladder.biggest_gain(), lang()),
                     command=ladder.command))

next_stop_link("textrnn")
