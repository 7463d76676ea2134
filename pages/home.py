"""Home: the class map. A live prediction first (where the course ends up), then the route in
teaching order, each stop with what the class will see and about how long it takes."""

import streamlit as st

from rnnviz.content import literal
from rnnviz.core.classes import display_class
from rnnviz.errors import RnnVizError
from rnnviz.plots.classifier import token_states_figure
from ui.lang import lang, page_text
from ui.models import load_shipped
from ui.quiz import answers
from ui.route import ROUTE, SECTIONS, section_title

words = page_text("home")

st.title(words("title"))
st.markdown(words("intro"))


@st.fragment
def hook() -> None:
    """Type a headline: its category and the first layer's gates, at once."""
    predictor = load_shipped("textrnn")
    if predictor is None:
        st.info(words("hook.no_model"))
        return
    text = st.text_input(words("hook.text"), words("hook.default"), key="home_text",
                         max_chars=200)
    try:
        pred = predictor.predict(text)
    except RnnVizError:
        st.info(words("hook.empty"))
        return
    st.success(words("hook.result", label=literal(display_class(pred.label, lang())),
                     p=pred.probabilities[pred.label]))
    st.plotly_chart(token_states_figure(pred.layers[0], pred.tokens, lang()), width="stretch",
                    key="home_gates")
    st.caption(words("hook.caption"))


st.header(words("hook.header"))
hook()

st.header(words("map.header"))
lessons = [s for s in ROUTE if s.minutes]
st.markdown(words("map.intro", stops=len(lessons), minutes=sum(s.minutes for s in lessons)))
number = 0
for section in SECTIONS:
    stops = [s for s in ROUTE if s.section == section and s.page != "home"]
    if not stops:
        continue
    st.subheader(section_title(section, lang()))
    for s in stops:
        number += 1
        link, line = st.columns([2, 5])
        link.page_link(s.path, label=f"{number}. {s.title(lang())}", icon=s.icon)
        line.markdown(words("map.stop", line=s.line(lang()), minutes=s.minutes))

given = answers().values()
if given:
    st.caption(words("progress", right=sum(a.correct for a in given), asked=len(given)))
