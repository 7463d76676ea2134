"""Classifier 2: RCNN (Lai et al., 2015) — drawn, trained live, compared with every other model."""

import streamlit as st

from rnnviz.plots.classifier import architecture_figure
from ui.lang import lang, page_text
from ui.lesson import next_stop_link
from ui.training import (
    model_comparison,
    model_widgets,
    shipped_predictors,
    training_mode,
    training_section,
)

words = page_text("textrcnn")

st.title(words("title"))
st.markdown(words("idea"))
# Lai et al. 2015, eqs. 1-7: contexts, y^(2) = tanh(W^(2) x + b^(2)), y^(3) = max_i y^(2)_i,
# then the output layer (the paper's W^(4), our V as on the Text-RNN page).
st.latex(words("formula"))
st.markdown(words("legend"))
st.markdown(words("contrast"))

st.header(words("arch.header"))
mode = training_mode("rcnn")  # the class preset (default) or custom settings
config = model_widgets("rcnn", "textrcnn", mode)
st.plotly_chart(architecture_figure(config, lang()), width="stretch", key="rcnn_architecture")
st.caption(words("arch.caption"))

training_section("rcnn", config, mode)

st.header(words("comparison.header"))
st.caption(words("comparison.caption"))
model_comparison(shipped_predictors(), key="rcnn_comparison")

next_stop_link("textrcnn")
