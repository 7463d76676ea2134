"""Trained classifiers for the pages, loaded once per server and shared by every session.

``st.cache_resource`` keeps one Predictor per file: a shipped model is keyed by its path and
file identity (inode, modification time, size), so a retrained file replaces the old entry; an
uploaded one by the SHA-256 of its bytes, so thirty students uploading the same checkpoint share
one copy. Predictor is
thread-safe and never trained, which is what a shared resource needs. Loading errors
(RnnVizError) are not cached and propagate for the page to show with ``st.error``.

``choose_model`` is the model chooser the predict page and the error page share: the same
list (shipped, trained in this session, uploaded in this session) under the same labels, so
one page can hand a model to the other by its label.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from rnnviz.content import literal
from rnnviz.core.config import CELL_NAMES
from rnnviz.core.predict import Predictor
from rnnviz.core.trace import module_kind
from rnnviz.errors import RnnVizError
from rnnviz.lessons import gating
from rnnviz.lessons.gating import DemoNetwork
from rnnviz.paths import MODELS_DIR
from rnnviz.plots.report import MODEL_NAMES
from ui.lang import page_text

# textgru: the course notes' own Text-RNN (2-layer GRU, last step, FC-ReLU-FC), README.
SHIPPED = ("textrnn", "textrcnn", "textgru")
UPLOAD_CACHE_ENTRIES = 8  # each up to MAX_CHECKPOINT_BYTES of weights held in RAM


def shipped_models() -> dict[str, Path]:
    """The shipped checkpoints present on disk, name -> path (in SHIPPED order)."""
    paths = {name: MODELS_DIR / f"{name}.safetensors" for name in SHIPPED}
    return {name: path for name, path in paths.items() if path.is_file()}


def load_shipped(name: str) -> Predictor | None:
    """A shipped predictor by name (SHIPPED); None while its file is absent."""
    if name not in SHIPPED:
        raise RnnVizError(f"unknown shipped model {name!r} (choose {', '.join(SHIPPED)})")
    path = MODELS_DIR / f"{name}.safetensors"
    if not path.is_file():
        return None  # not cached: the file may appear once training finishes
    stat = path.stat()  # a retrained file is a new inode (atomic replace) with a new mtime
    return _load_path(str(path), (stat.st_ino, stat.st_mtime_ns, stat.st_size))


def load_uploaded(data: bytes, name: str) -> Predictor:
    """A predictor for an uploaded checkpoint (``UploadedFile.getvalue()``), shared by content."""
    return _load_bytes(hashlib.sha256(data).hexdigest(), name, data)


def shipped_by_cell(kind: str | None = None) -> dict[str, Predictor]:
    """The shipped classifiers on this server, name -> predictor in SHIPPED order; with
    ``kind`` ("lstm", "gru", "rnn") only those whose recurrent cell is that kind."""
    found = {}
    for name in SHIPPED:
        predictor = load_shipped(name)
        if predictor is not None and (kind is None or module_kind(predictor.model.rnn) == kind):
            found[name] = predictor
    return found


@st.cache_resource(max_entries=16, show_spinner=False)
def demo_network(kind: str, bidirectional: bool = False, gate_bias: float = 0.0) -> DemoNetwork:
    """The untrained, seeded demo network a lesson shows where no trained model fits, built
    once per server."""
    return gating.demo_network(kind, bidirectional=bidirectional, gate_bias=gate_bias)


@st.cache_resource(show_spinner=False, max_entries=2 * len(SHIPPED))
def _load_path(path: str, version: tuple[int, int, int]) -> Predictor:
    return Predictor.from_file(path)


# The bytes are excluded from the cache key (leading underscore): their digest stands for them,
# so a hit costs one SHA-256 instead of Streamlit hashing up to 50 MiB again.
@st.cache_resource(show_spinner=False, max_entries=UPLOAD_CACHE_ENTRIES, ttl="2h")
def _load_bytes(sha256: str, name: str, _data: bytes) -> Predictor:
    return Predictor.from_bytes(_data, name=name)


# ---- the model chooser both classifier pages draw -----------------------------------------

_T = page_text("ui/models")  # the words: content/<lang>/ui/models.md
UPLOADED_KEY = "models_uploaded"  # session: file name -> Predictor, the latest uploads
UPLOADS_KEPT = 3  # uploads a session keeps offering (each up to MAX_CHECKPOINT_BYTES in RAM)


@dataclass(frozen=True)
class ModelChoice:
    """One model a page can use, under the label its selectbox shows."""

    label: str
    predictor: Predictor
    source: str  # "shipped" | "session" | "upload"


def available_models() -> dict[str, ModelChoice]:
    """Every model this session can use, by label: the shipped ones, the ones trained in this
    session (the latest per training page) and the checkpoints uploaded in this session."""
    from ui.training import session_models, shipped_predictors

    out = {label: ModelChoice(label, p, "shipped") for label, p in shipped_predictors().items()}
    for name, p in session_models().items():
        label = _T("model.session", name=name)
        out[label] = ModelChoice(label, p, "session")
    for name, p in st.session_state.get(UPLOADED_KEY, {}).items():
        label = _T("model.uploaded", name=name)
        out[label] = ModelChoice(label, p, "upload")
    return out


def choose_model(prefix: str) -> ModelChoice | None:
    """The model selectbox (key ``{prefix}_model``) with "Upload..." last, which opens a file
    uploader (key ``{prefix}_upload``); a caption describes the model chosen. An upload is then
    offered on every page of this session. None while no file is given or the file is refused
    (the page says so and stops)."""
    models = available_models()
    if not any(m.source == "shipped" for m in models.values()):
        st.info(_T("no_shipped"))
    upload = _T("upload.option")
    labels = [*models, upload]
    key = f"{prefix}_model"
    if key in st.session_state and st.session_state[key] not in labels:
        del st.session_state[key]  # a replaced run, or a label in the other language
    choice = st.selectbox(_T("model"), labels, key=key)
    if choice == upload:
        file = st.file_uploader(_T("upload"), type=["safetensors"], key=f"{prefix}_upload")
        if file is None:
            return None
        try:
            predictor = load_uploaded(file.getvalue(), file.name)
        except RnnVizError as err:
            st.error(_T("upload.error", error=literal(str(err))))  # it quotes the file's name
            return None
        kept = st.session_state.setdefault(UPLOADED_KEY, {})
        kept.pop(file.name, None)
        kept[file.name] = predictor  # the latest last; the oldest dropped beyond UPLOADS_KEPT
        for old in list(kept)[:-UPLOADS_KEPT]:
            del kept[old]
        chosen = ModelChoice(_T("model.uploaded", name=file.name), predictor, "upload")
    else:
        chosen = models[choice]
    config = chosen.predictor.config
    st.caption(_T("model.caption", model=MODEL_NAMES.get(config.model, config.model),
                  cell=CELL_NAMES[config.cell], layers=config.num_layers, H=config.hidden_size,
                  tokens=_T(f"tokens.{config.tokenizer}"), vocab=len(chosen.predictor.vocab)))
    return chosen


__all__ = ["SHIPPED", "ModelChoice", "available_models", "choose_model", "demo_network",
           "load_shipped", "load_uploaded", "shipped_by_cell", "shipped_models"]
