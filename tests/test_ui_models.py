"""The cached model loaders the pages share: one Predictor per file, errors passed through."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import streamlit as st
from helpers import tiny_checkpoint

import ui.models
from rnnviz.core.predict import Predictor
from rnnviz.errors import RnnVizError
from ui.models import load_shipped, load_uploaded, shipped_models

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


@pytest.fixture(autouse=True)
def models_dir(tmp_path: Path, monkeypatch) -> Path:
    # Outside `streamlit run` the caches still work; their "no runtime" warnings are noise.
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    monkeypatch.setattr(ui.models, "MODELS_DIR", tmp_path)
    st.cache_resource.clear()
    yield tmp_path
    st.cache_resource.clear()


def test_absent_shipped_model_is_none_until_its_file_appears(models_dir: Path) -> None:
    assert shipped_models() == {}
    assert load_shipped("textrnn") is None
    path = tiny_checkpoint().save(models_dir / "textrnn.safetensors")
    assert shipped_models() == {"textrnn": path}
    predictor = load_shipped("textrnn")
    assert isinstance(predictor, Predictor) and predictor.name == "textrnn.safetensors"
    assert load_shipped("textrcnn") is None


def test_shipped_model_is_loaded_once_and_reloaded_when_replaced(models_dir: Path) -> None:
    path = tiny_checkpoint("textrcnn", seed=0).save(models_dir / "textrcnn.safetensors")
    first = load_shipped("textrcnn")
    assert load_shipped("textrcnn") is first  # shared, not reloaded
    tiny_checkpoint("textrcnn", seed=1).save(path)  # retrained: a new file, a new mtime
    second = load_shipped("textrcnn")
    assert second is not first
    assert second.predict("股市").probabilities != first.predict("股市").probabilities
    assert list(shipped_models()) == ["textrcnn"]


def test_unknown_shipped_name_is_refused() -> None:
    with pytest.raises(RnnVizError, match="unknown shipped model 'lstm'"):
        load_shipped("lstm")


def test_uploads_are_shared_by_content() -> None:
    a, b = tiny_checkpoint(seed=0).to_bytes(), tiny_checkpoint(seed=1).to_bytes()
    first = load_uploaded(a, "mine.safetensors")
    assert first.name == "mine.safetensors"
    assert load_uploaded(bytes(a), "mine.safetensors") is first
    other = load_uploaded(b, "mine.safetensors")
    assert other is not first
    assert other.predict("球赛").probabilities != first.predict("球赛").probabilities


def test_bad_upload_raises_for_the_page_and_is_not_cached() -> None:
    for _ in range(2):
        with pytest.raises(RnnVizError, match="bad.safetensors: this is a text file"):
            load_uploaded(b"hello, not weights\n", "bad.safetensors")
    assert load_uploaded(tiny_checkpoint().to_bytes(), "good.safetensors").classes == ["finance",
                                                                                    "sports"]
