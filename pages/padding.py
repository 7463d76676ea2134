"""Lesson: the padding pitfall — what out[:, -1] reads after post-padding, pre-padding and
packing, on the student's own title, and what each costs in dev accuracy (stored figures of
bench/padding.py)."""

import streamlit as st

from rnnviz.content import literal
from rnnviz.core.classes import display_class
from rnnviz.core.text import UNK_ID, encode_text
from rnnviz.errors import RnnVizError
from rnnviz.lessons import padding as pd
from rnnviz.lessons.quiz import Question
from rnnviz.plots.padding import accuracy_figure, drift_figure, norms_figure
from ui.lang import lang, page_text
from ui.lesson import lesson_end
from ui.quiz import ask
from ui.training import shipped_predictors

words = page_text("padding")

st.title(words("title"))
st.markdown(words("intro"))
st.markdown(words("schemes"))

# ---- one title, three ways ----------------------------------------------------------------
st.header(words("live.header"))
models = shipped_predictors()
view = None
if not models:
    st.info(words("no_model"))
else:
    labels = list(models)
    # The course's model reads its last state: the pitfall is about exactly that read.
    first = next((i for i, k in enumerate(labels) if models[k].config.pooling == "last"), 0)
    predictor = models[st.selectbox(words("model"), labels, index=first, key="padding_model")]
    config = predictor.config
    c1, c2 = st.columns([3, 1])
    text = c1.text_input(words("text"), words("default_text"), key="padding_text", max_chars=200)
    length = c2.slider(words("length"), 4, 64, pd.PAD_TO, key="padding_length")
    st.caption(words("model.caption", layers=config.num_layers, H=config.hidden_size,
                     cell=config.cell.upper(), directions=config.directions,
                     pooling=words(f"pooling.{'last' if config.pooling == 'last' else 'other'}")))
    try:
        encoded = encode_text(text, predictor.tokenizer, predictor.vocab, config.max_len)
        view = pd.padding_view(predictor.model, encoded.ids, encoded.tokens, length)
    except RnnVizError as err:
        st.info(words("unreadable", error=literal(str(err))))
    if view is not None and all(i == UNK_ID for i in encoded.ids):
        st.warning(words("all_unknown", n=len(encoded.ids)))

if view is not None:
    if view.cut:
        st.warning(words("cut", n=len(encoded.ids), L=length))
    if ask(words, Question("q_pads", answer=view.pads, rel_tol=0, fmt=".0f",
                           values={"n": view.n, "L": length})):
        st.dataframe(pd.reads_rows(view, lang()), hide_index=True, key="padding_reads")
        st.caption(words("reads.caption"))
        if config.num_layers > 1:
            st.caption(words("reads.layers", layers=config.num_layers))
    if view.directions == 2:
        seen = sum(r is not None for r in pd.last_reads(view.n, length, "post", "backward"))
        ask(words, Question("q_backward", answer="none" if seen == 0 else "one",
                            options=("none", "one", "all"), values={"n": view.n, "L": length}))
    post = view.similarity("post")
    if ask(words, Question("q_drift", answer=pd.similarity_band(post),
                           options=("high", "mid", "low"),
                           values={"n": view.n, "L": length, "k": view.pads, "cos": post})):
        st.plotly_chart(drift_figure(view, lang()), width="stretch", key="padding_drift")
        st.markdown(words("drift.reading", post=post, pre=view.similarity("pre"), k=view.pads))
        st.plotly_chart(norms_figure(view, lang()), width="stretch", key="padding_norms")
        st.caption(words("norms.caption"))
    if view.probabilities is not None:
        st.subheader(words("answers.header"))
        name = lambda c: display_class(c, lang())  # noqa: E731
        st.dataframe(pd.answer_rows(view, predictor.classes, lang(), name), hide_index=True,
                     key="padding_answers")
        st.caption(words("answers.caption"))

# ---- what it costs: the same small model trained three ways ------------------------------
st.header(words("cost.header"))
try:
    stored = pd.load_results()
except RnnVizError as err:
    st.error(words("cost.bad", error=literal(str(err))))
    stored = None
if stored is None:
    st.info(words("cost.missing"))
else:
    r = stored.recipe
    st.markdown(words("cost.setup", cell=r.cell.upper(), E=r.embed_dim, H=r.hidden_size,
                      L=r.pad_to, epochs=r.epochs, train=stored.train_examples,
                      dev=stored.dev_examples, mean=stored.dev_mean_length,
                      pads=stored.mean_pads, share=stored.dev_share_padded))
    if ask(words, Question("q_cost", answer=stored.lowest(), options=pd.SCHEMES)):
        st.plotly_chart(accuracy_figure(stored, lang()), width="stretch", key="padding_cost")
        cols = st.columns(len(pd.SCHEMES))
        for col, scheme in zip(cols, pd.SCHEMES, strict=True):
            col.metric(words(f"scheme.{scheme}"), f"{stored.accuracy[scheme]:.2%}",
                       delta=words("cost.delta", d=-100 * stored.cost(scheme))
                       if scheme != "packed" else None)
        st.markdown(words("cost.reading", post=100 * stored.cost("post"),
                          pre=100 * stored.cost("pre")))
    st.caption(words("cost.command", command=stored.command))

st.markdown(words("fix"))
lesson_end(words)
