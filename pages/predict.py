"""Classifier 3: predict a typed text and look inside — tokens, probabilities, every gate, two
attributions side by side, and how far back each model's answer reaches."""

import streamlit as st

from rnnviz.content import literal
from rnnviz.core import attribution as attr
from rnnviz.core.classes import display_class
from rnnviz.core.mistakes import model_fingerprint
from rnnviz.core.predict import Prediction, Predictor
from rnnviz.errors import RnnVizError
from rnnviz.plots.attribution import (
    attribution_figure,
    connectivity_figure,
    connectivity_rows,
    disagreement_rows,
    evidence_figure,
)
from rnnviz.plots.classifier import probability_figure, token_states_figure
from rnnviz.plots.report import as_report, importance_html, load_examples
from ui.lang import lang, page_text
from ui.models import available_models, choose_model
from ui.training import report_view

words = page_text("predict")
ORIGIN_KEY = "predict_origin"  # set by the error page (pages/errors.py) when it opens a title

st.title(words("title"))

# -- the model
chosen = choose_model("predict")
if chosen is None:
    st.stop()
predictor = chosen.predictor
ckpt = predictor.checkpoint

# -- the text
examples = load_examples()
if examples:
    st.session_state.setdefault("predict_text", examples[0].text)
    example_class = {e.text: display_class(e.label, lang()) for e in examples}
    st.selectbox(
        words("example"), [e.text for e in examples], key="predict_example",
        format_func=lambda t: words("example.option", text=t, label=example_class[t]),
        on_change=lambda: st.session_state.update(
            predict_text=st.session_state["predict_example"]),
    )
text = st.text_area(words("text"), key="predict_text", max_chars=2000, height=80)
origin = st.session_state.get(ORIGIN_KEY)
if origin and origin["text"] == text:
    st.info(words("origin", true=literal(display_class(origin["true"], lang())),
                  pred=literal(display_class(origin["pred"], lang()))))
    st.page_link("pages/errors.py", label=words("origin.back"), icon="↩️")
if not text.strip():
    st.info(words("empty"))
    st.stop()
try:
    pred = predictor.predict(text)
except RnnVizError:
    st.info(words("unreadable"))
    st.stop()

# -- the answer
st.success(words("answer", name=literal(display_class(pred.label, lang())),
                 label=literal(pred.label), p=pred.probabilities[pred.label]))
all_unknown = all(pred.unknown)
if all_unknown:
    st.warning(words("all_unknown", n=len(pred.tokens)))
left, right = st.columns([3, 2])
left.markdown(words("tokens.header"))
left.markdown(importance_html(pred.tokens, pred.importance, pred.unknown, lang()),
              unsafe_allow_html=True)
n_unknown = sum(pred.unknown)
if pred.truncated:
    left.warning(words("truncated", n=len(pred.tokens), total=pred.total_tokens))
if n_unknown and not all_unknown:
    left.caption(words("unknown", n=n_unknown))
# Gradient x input (Simonyan et al. 2014; Shrikumar et al. 2016), rnnviz/core/predict.py.
left.caption(words("importance"))
right.plotly_chart(probability_figure(pred.probabilities, pred.label, lang()), width="stretch",
                   key="predict_probs")


# -- inside the network
# A fragment: choosing another layer, view or unit reruns this panel only, not the model, the
# prediction and the answer above it (tests/e2e/test_protocol_client.py checks it).
@st.fragment
def inside_the_network(pred: Prediction) -> None:
    st.header(words("states.header"))

    def layer_name(i: int) -> str:
        layer = pred.layers[i]
        return words(f"layer.{layer.direction}", layer=layer.layer + 1)

    index = st.selectbox(words("layer"), range(len(pred.layers)), key="predict_layer",
                         format_func=layer_name)
    trace = pred.layers[index]
    c2, c3 = st.columns(2)
    H = next(iter(trace.states.values())).shape[1]
    view = c2.radio(words("view"), ["mean", "unit"], horizontal=True, key="predict_view",
                    format_func=lambda v: words(f"view.{v}"))
    unit = None
    if view == "unit":
        unit = int(c3.number_input(words("unit", last=H - 1), 0, H - 1, 0, key="predict_unit"))
    st.plotly_chart(token_states_figure(trace, pred.tokens, lang(), unit=unit), width="stretch",
                    key="predict_states")
    st.caption(words(f"states.caption.{trace.kind}"))


inside_the_network(pred)


# -- two attributions, and how far back the answer reaches
# Extra forwards per keystroke (occlusion: one batched forward of 2T+1 rows; connectivity: one
# forward and backward per model), so each panel is off until asked for, is a fragment (its
# switch reruns only itself) and caches its result per (model, text) for every session
# (bench/attribution_latency.py measures them).
@st.cache_resource(max_entries=64, ttl="1h", show_spinner=False)
def _comparison(model_key: str, text: str, _predictor: Predictor,
                _pred: Prediction) -> attr.Comparison:
    return attr.compare(_predictor, text, _pred.layers)


@st.cache_resource(max_entries=256, ttl="1h", show_spinner=False)
def _gradients(model_key: str, text: str, _predictor: Predictor) -> attr.Gradients:
    return attr.gradients(_predictor, text)


@st.fragment
def attributions(text: str, pred: Prediction, predictor: Predictor) -> None:
    st.header(words("attr.header"))
    if not st.toggle(words("attr.toggle"), key="predict_show_attribution"):
        return
    if all(pred.unknown):
        st.info(words("attr.unknown"))
        return
    if len(pred.tokens) > attr.MAX_OCCLUSION_TOKENS:
        st.info(words("attr.too_long", n=len(pred.tokens), max=attr.MAX_OCCLUSION_TOKENS))
        return
    c = _comparison(model_fingerprint(predictor), text, predictor, pred)
    st.plotly_chart(attribution_figure(c, predictor.classes, lang()), width="stretch",
                    key="predict_attribution")
    st.markdown(words("attr.explain"))
    if c.disagreements:
        st.markdown(words("attr.disagree", n=len(c.disagreements)))
        st.dataframe(disagreement_rows(c, lang()), hide_index=True, key="predict_disagree")
    else:
        st.success(words("attr.agree"))
    evidence = evidence_figure(c, lang())
    if evidence is not None:
        st.plotly_chart(evidence, width="stretch", key="predict_evidence")
    st.caption(words("attr.rules", floor=attr.SIGN_FLOOR, material=attr.MATERIAL,
                     tie=attr.POOL_TIE, sat=attr.SATURATED))


@st.fragment
def reach(text: str) -> None:
    st.header(words("reach.header"))
    if not st.toggle(words("reach.toggle"), key="predict_show_reach"):
        return
    curves, classes = [], []
    for label, model in available_models().items():
        try:
            g = _gradients(model_fingerprint(model.predictor), text, model.predictor)
        except RnnVizError:
            continue  # nothing this model's tokenizer can read
        curves.append((label, g))
        classes.append(model.predictor.classes)
    if not curves:
        st.info(words("reach.none"))
        return
    st.plotly_chart(connectivity_figure(curves, lang()), width="stretch", key="predict_reach")
    st.dataframe(connectivity_rows(curves, classes, lang()), hide_index=True,
                 key="predict_reach_table")
    st.markdown(words("reach.explain"))


attributions(text, pred, predictor)
reach(text)

# A toggle, not an expander: an expander's body (confusion figure included) is built on every
# rerun even when collapsed, about a quarter of this page's server time per keystroke.
if st.toggle(words("report.toggle"), key="predict_show_report"):
    report_view(as_report(ckpt.metrics), "predict_report", seconds=ckpt.info.get("seconds"),
                device=ckpt.info.get("device"))
