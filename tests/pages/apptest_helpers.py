"""What the page tests share: opening app.py on a page, reading its charts and metrics, stopping
the jobs a test started, and stand-ins for the shipped classifier.

Importable as ``apptest_helpers`` from the page tests: tests/pages/ has no __init__.py, so
pytest puts this folder on sys.path when it loads them.
"""

from __future__ import annotations

import base64
import json
import types
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.models import ModelConfig, TextRNN, build_model
from rnnviz.core.text import Vocab
from rnnviz.core.trace import trace_module

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_page(page: str, *, monkeypatch: pytest.MonkeyPatch | None = None,
              models_dir: Path | None = None) -> AppTest:
    """app.py run once, then switched to ``page`` (e.g. "pages/bptt.py"). With ``models_dir``
    (and ``monkeypatch``), the shipped models are read from that folder and the model cache is
    emptied first, so no other test's models show."""
    if models_dir is not None:
        import ui.models

        assert monkeypatch is not None, "models_dir needs monkeypatch"
        monkeypatch.setattr(ui.models, "MODELS_DIR", models_dir)
        st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60)  # the 3 s default times out with torch
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    # The page must run inside app.py (shared sidebar, language switch). Streamlit runs a file
    # in pages/ on its own (legacy pages-directory mode) when its st.Page url_path equals the
    # file's stem, so app.py must give this page a url_path different from its file name.
    assert "lang" in at.session_state, "app.py did not run: url_path equals the file stem?"
    return at


def stop_jobs(at: AppTest) -> None:
    """Stop every background job the session started and wait for it, so none outlives its test."""
    if "jobs_registry" not in at.session_state:
        return
    for job in at.session_state["jobs_registry"].values():
        job.stop()
        job.wait(30)


def chart_specs(at: AppTest) -> list[dict]:
    """The figure JSON of every Plotly chart on the page, in page order."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def shown_metrics(at: AppTest) -> dict[str, str]:
    """Every ``st.metric`` on the page, label -> shown value."""
    return {m.label: m.value for m in at.metric}


def plotly_values(v: object) -> np.ndarray:
    """A trace array from the chart JSON: plotly sends numpy arrays as base64 typed arrays."""
    if isinstance(v, dict) and "bdata" in v:
        arr = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return arr.reshape([int(n) for n in v["shape"].split(",")]) if "shape" in v else arr
    return np.array(v, dtype=float)  # None (a gap) -> nan


def traced_layers(rnn: torch.nn.Module, tokens: list[str]) -> list[types.SimpleNamespace]:
    """What a Predictor reports per layer and direction (states as (T, H) arrays), from tracing
    ``rnn`` on random inputs, one per token."""
    trace = trace_module(rnn, torch.randn(1, len(tokens), rnn.input_size))
    return [types.SimpleNamespace(layer=t.layer, direction=t.direction, kind=t.kind,
                                  states={k: v[0].detach().numpy() for k, v in t.states.items()})
            for t in trace.layers]


def fake_load_shipped(monkeypatch: pytest.MonkeyPatch, load_shipped: object) -> None:
    """Stand ``load_shipped`` in for ui.models.load_shipped (what shipped_by_cell and the pages
    read), for the rest of the test."""
    import ui.models

    monkeypatch.setattr(ui.models, "load_shipped", load_shipped)


def ship_tiny_textrnn(directory: Path, text: str, num_layers: int) -> TextRNN:
    """A real (untrained) BiLSTM TextRNN over the characters of ``text``, saved in the shipped
    format as directory/textrnn.safetensors; returns the model."""
    vocab = Vocab.build([list(text)])
    config = ModelConfig(vocab_size=len(vocab), num_classes=2, embed_dim=8, hidden_size=6,
                         num_layers=num_layers)
    model = build_model(config).eval()
    Checkpoint(model=model, config=config, vocab=vocab,
               classes=["a", "b"]).save(directory / "textrnn.safetensors")
    return model


def answer_question(at: AppTest, key: str, response: object) -> AppTest:
    """Commit ``response`` to the page's question ``key`` (ui/quiz.py): set its input, press
    the form's commit button, run."""
    inputs = [w for w in [*at.radio, *at.number_input] if w.key == f"quiz_{key}_choice"
              or w.key == f"quiz_{key}_number"]
    assert inputs, f"question {key!r} is not asking (answered already, or not on the page)"
    inputs[0].set_value(response)
    form = inputs[0].proto.form_id
    [button] = [b for b in at.button if b.proto.form_id == form]
    return button.click().run()


def revealed(at: AppTest) -> list[str]:
    """The reveals shown (success: right, warning: wrong, info: questions off), page order."""
    from rnnviz.content import text

    marks = [text(lang, "ui/quiz", k, answer="", yours="")[:4] for lang in ("zh", "en")
             for k in ("right", "wrong", "answer")]
    return [e.value for e in [*at.success, *at.warning, *at.info]
            if any(e.value.startswith(m) for m in marks)]
