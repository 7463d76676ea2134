"""Classifier 4: what the model gets wrong — from the confusion matrix to the titles behind one
cell, each opened in the predict page's token / importance / gate view with one click; and per
class, the titles it found hardest."""

import hashlib

import streamlit as st

from rnnviz.content import literal
from rnnviz.core.classes import display_class
from rnnviz.core.data import Dataset, LoadReport
from rnnviz.core.data import load_dataset as load_file
from rnnviz.core.mistakes import (
    ORDERS,
    DatasetPredictions,
    Example,
    cell_examples,
    check_against_report,
    dataset_fingerprint,
    hardest_examples,
    load_labelled_upload,
    model_fingerprint,
    most_common_confusion,
    predict_dataset,
    thucnews_dev_file,
)
from rnnviz.core.predict import Predictor
from rnnviz.core.training_data import run_datasets
from rnnviz.errors import RnnVizError
from rnnviz.paths import data_dir
from rnnviz.plots.mistakes import clicked_cell, error_matrix_figure
from rnnviz.plots.report import as_report
from ui.lang import lang, page_text
from ui.models import ModelChoice, choose_model
from ui.training import session_dev_specs, session_models

words = page_text("errors")
PAGE_ROWS = 10  # titles listed at a time


# Once per (model, data) for the whole server: a cell change or a keystroke anywhere on the page
# is then array indexing (bench/error_explorer.py measures both).
@st.cache_resource(max_entries=12, ttl="2h", show_spinner=False)
def _predictions(model_key: str, data_key: str, _predictor: Predictor,
                 _dataset: Dataset) -> DatasetPredictions:
    return predict_dataset(_predictor, _dataset)


@st.cache_resource(max_entries=4, show_spinner=False)
def _dev_file(path: str, version: tuple[int, int]) -> tuple[Dataset, str]:
    dataset, _ = load_file(path, fmt="thucnews")
    return dataset, dataset_fingerprint(dataset)


@st.cache_resource(max_entries=8, ttl="2h", show_spinner=False)
def _uploaded(digest: str, classes: tuple[str, ...], _data: bytes, name: str,
              _class_bytes: bytes | None) -> tuple[Dataset, LoadReport, str]:
    dataset, report = load_labelled_upload(_data, name, classes, _class_bytes)
    return dataset, report, dataset_fingerprint(dataset)


def _run_dev(chosen: ModelChoice) -> tuple[Dataset, str] | None:
    """The dev set the session-trained model scored itself on, rebuilt once per run."""
    names = [n for n, p in session_models().items() if p is chosen.predictor]
    spec = session_dev_specs().get(names[0]) if names else None
    if spec is None:
        return None
    kept = st.session_state.setdefault("errors_run_dev", {})
    if kept.get(names[0], (None,))[0] is not spec:
        _, dev, _ = run_datasets(spec.folder, spec.train_data, spec.dev_data,
                                 seed=spec.train_config.seed, dev_limit=spec.dev_limit,
                                 need_train=False)
        kept[names[0]] = (spec, dev, dataset_fingerprint(dev))
    return kept[names[0]][1:]


def _data(chosen: ModelChoice) -> tuple[str, Dataset, str] | None:
    """(source, data set, its fingerprint) from the chosen source; None while there is none."""
    run = _run_dev(chosen) if chosen.source == "session" else None
    dev = thucnews_dev_file()
    options = (["run"] if run else []) + (["thucnews"] if dev else []) + ["upload"]
    # Another model starts on its own natural data: the run's dev set, else THUCNews's.
    if (st.session_state.get("errors_data") not in options
            or st.session_state.get("errors_data_model") != chosen.label):
        st.session_state.pop("errors_data", None)
    st.session_state["errors_data_model"] = chosen.label
    source = st.radio(words("data"), options, key="errors_data", horizontal=True,
                      format_func=lambda o: words(f"data.{o}"))
    if source == "run":
        return ("run", *run)
    if source == "thucnews":
        stat = dev.stat()
        return ("thucnews", *_dev_file(str(dev), (stat.st_mtime_ns, stat.st_size)))
    if not dev:
        st.info(words("data.none", folder=str(data_dir())))  # in a code span: shown as is
    c1, c2 = st.columns(2)
    file = c1.file_uploader(words("upload.file"), type=["txt", "tsv"], key="errors_data_file")
    classes = c2.file_uploader(words("upload.classes"), type=["txt"], key="errors_data_classes")
    st.caption(words("upload.caption"))
    if file is None:
        return None
    data, class_bytes = file.getvalue(), classes.getvalue() if classes else None
    digest = hashlib.sha256(data + b"\x00" + (class_bytes or b"")).hexdigest()
    try:
        dataset, report, key = _uploaded(digest, tuple(chosen.predictor.classes), data,
                                         file.name, class_bytes)
    except RnnVizError as err:
        st.error(words("upload.error", error=literal(str(err))))  # it quotes the file's name
        return None
    if report.issues_total:
        st.warning(report.summary(lang()))
    return "upload", dataset, key


def _open(e: Example, chosen: ModelChoice, classes: list[str]) -> None:
    """The predict page with this model and this title (its widgets read these keys)."""
    st.session_state["predict_model"] = chosen.label
    st.session_state["predict_text"] = e.text
    st.session_state["predict_origin"] = {"text": e.text, "true": classes[e.true],
                                          "pred": classes[e.pred]}
    st.switch_page("pages/predict.py")


def _rows(examples: list[Example], key: str, chosen: ModelChoice, names: list[str]) -> None:
    """One line per title: the title, p(true), the predicted class and p(predicted), and a
    button that opens it on the predict page."""
    widths = [7, 2, 3, 1]
    for col, label in zip(st.columns(widths), ("col.title", "col.p_true", "col.pred", "col.open"),
                          strict=True):
        col.caption(words(label))
    for e in examples:
        c1, c2, c3, c4 = st.columns(widths, vertical_alignment="center")
        c1.markdown(literal(e.text) + (" ⚠️" if e.all_unknown else ""))
        c2.markdown(f"{e.p_true:.1%}")
        c3.markdown(words("pred.cell", name=literal(names[e.pred]), p=e.p_pred))
        if c4.button("🔍", key=f"errors_open_{key}_{e.row}", help=words("open.help")):
            _open(e, chosen, list(chosen.predictor.classes))
    if any(e.all_unknown for e in examples):
        st.caption(words("unknown.mark"))


def _select_cell(num_classes: int) -> None:
    """A click on a matrix cell: its (true, predicted) pair into the two selectboxes."""
    event = st.session_state.get("errors_matrix") or {}
    cell = clicked_cell(event.get("selection", {}).get("points", []), num_classes)
    if cell is not None:
        st.session_state["errors_true"], st.session_state["errors_pred"] = cell


st.title(words("title"))
st.markdown(words("intro"))
chosen = choose_model("errors")
if chosen is None:
    st.stop()
predictor = chosen.predictor
stored = as_report(predictor.checkpoint.metrics)
if stored is None:
    st.info(words("no_report"))
data = _data(chosen)
if data is None:
    st.stop()
source, dataset, data_key = data
try:
    with st.spinner(words("computing", n=len(dataset))):
        preds = _predictions(model_fingerprint(predictor), data_key, predictor, dataset)
except RnnVizError as err:
    st.error(words("data.error", error=literal(str(err))))
    st.stop()
report = preds.report()
names = [display_class(c, lang()) for c in preds.classes]
st.caption(words("summary", n=preds.n, accuracy=report.accuracy, seconds=preds.seconds))
if preds.skipped:
    st.caption(words("skipped", n=preds.skipped))
if preds.all_unknown.any():
    st.warning(words("unknown.titles", n=int(preds.all_unknown.sum())))
if stored is not None and source in ("run", "thucnews"):
    check = check_against_report(preds, stored)
    if not check.comparable:
        st.caption(words("check.other", n=check.stored_n))
    elif check.differing:
        st.warning(words("check.differs", k=check.differing, n=preds.n))
    else:
        st.success(words("check.same", n=preds.n))

# -- from the matrix to one cell
st.header(words("matrix.header"))
C = len(names)
# Other model or other titles: start again on the most frequent confusion.
if st.session_state.get("errors_cell_for") != (chosen.label, data_key):
    st.session_state["errors_cell_for"] = (chosen.label, data_key)
    st.session_state["errors_true"], st.session_state["errors_pred"] = (
        most_common_confusion(preds.confusion()) or (0, 0))
fig = error_matrix_figure(report, lang(), (st.session_state["errors_true"],
                                           st.session_state["errors_pred"]))
st.plotly_chart(fig, width="stretch", key="errors_matrix", on_select=lambda: _select_cell(C),
                selection_mode="points")
st.caption(words("matrix.caption"))
c1, c2, c3 = st.columns(3)
true = c1.selectbox(words("true"), range(C), key="errors_true", format_func=names.__getitem__)
pred = c2.selectbox(words("pred"), range(C), key="errors_pred", format_func=names.__getitem__)
order = c3.radio(words("order"), ORDERS, key="errors_order",
                 format_func=lambda o: words(f"order.{o}"))
examples = cell_examples(preds, true, pred, order)
if not examples:
    st.info(words("cell.empty", true=literal(names[true]), pred=literal(names[pred])))
else:
    kind = "cell.right" if true == pred else "cell.wrong"
    st.markdown(words(kind, n=len(examples), true=literal(names[true]),
                      pred=literal(names[pred])))
    pages = -(-len(examples) // PAGE_ROWS)
    page = 1
    if pages > 1:  # one page number per cell and order: another cell starts on its first
        page = int(st.number_input(words("page", pages=pages), 1, pages, 1,
                                   key=f"errors_page_{true}_{pred}_{order}"))
    _rows(examples[(page - 1) * PAGE_ROWS : page * PAGE_ROWS], "cell", chosen, names)

# -- per class, the hardest titles
st.header(words("hard.header"))
if st.session_state.get("errors_hard_class", 0) not in range(C):
    del st.session_state["errors_hard_class"]  # left from a model with more classes
hard_class = st.selectbox(words("hard.class"), range(C), key="errors_hard_class",
                          format_func=names.__getitem__)
hardest = hardest_examples(preds, hard_class, PAGE_ROWS)
if not hardest:
    st.info(words("hard.empty", name=literal(names[hard_class])))
else:
    st.caption(words("hard.caption", n=len(hardest)))
    _rows(hardest, "hard", chosen, names)
