"""Trained classifiers for the pages, loaded once per server and shared by every session.

``st.cache_resource`` keeps one Predictor per file: a shipped model is keyed by its path and
file identity (inode, modification time, size) (a retrained file replaces the old entry), an uploaded one by the SHA-256 of
its bytes, so thirty students uploading the same checkpoint share one copy. Predictor is
thread-safe and never trained, which is what a shared resource needs. Loading errors
(RnnVizError) are not cached and propagate for the page to show with ``st.error``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from rnnviz.core.predict import Predictor
from rnnviz.errors import RnnVizError
from rnnviz.paths import MODELS_DIR

SHIPPED = ("textrnn", "textrcnn")
UPLOAD_CACHE_ENTRIES = 8  # each up to MAX_CHECKPOINT_BYTES of weights held in RAM


def shipped_models() -> dict[str, Path]:
    """The shipped checkpoints present on disk, name -> path (in SHIPPED order)."""
    paths = {name: MODELS_DIR / f"{name}.safetensors" for name in SHIPPED}
    return {name: path for name, path in paths.items() if path.is_file()}


def load_shipped(name: str) -> Predictor | None:
    """The shipped "textrnn" or "textrcnn" predictor; None while its file is absent."""
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


@st.cache_resource(show_spinner=False, max_entries=2 * len(SHIPPED))
def _load_path(path: str, version: tuple[int, int, int]) -> Predictor:
    return Predictor.from_file(path)


# The bytes are excluded from the cache key (leading underscore): their digest stands for them,
# so a hit costs one SHA-256 instead of Streamlit hashing up to 50 MiB again.
@st.cache_resource(show_spinner=False, max_entries=UPLOAD_CACHE_ENTRIES, ttl="2h")
def _load_bytes(sha256: str, name: str, _data: bytes) -> Predictor:
    return Predictor.from_bytes(_data, name=name)


__all__ = ["SHIPPED", "load_shipped", "load_uploaded", "shipped_models"]
