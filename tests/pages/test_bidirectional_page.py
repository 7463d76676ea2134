"""Page 6 (bidirectional RNN) under AppTest: the blank example, both directions' states and
their concatenation, separate weights, and the shipped-model branch."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch import nn

from rnnviz.gating import EXAMPLE_TEXTS, FILL_BLANK_EXAMPLES
from rnnviz.trace import trace_module

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "pages/bidirectional.py"


@pytest.fixture
def at() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def _specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _norms(at: AppTest) -> dict:
    return next(s for s in _specs(at) if s["data"] and s["data"][0]["type"] == "bar")


def test_defaults_show_blank_context_states_and_separate_weights(at: AppTest) -> None:
    texts = [m.value for m in at.markdown]
    assert any(t.endswith("我肚子疼得厉害，所以去＿") for t in texts)  # forward context at the blank
    assert any(t.endswith("＿＿挂号看病。") for t in texts)  # backward context
    assert len(at.get("plotly_chart")) == 3  # diagram, concatenated states, norms
    norms = _norms(at)
    assert [t["name"] for t in norms["data"]] == ["前向 ‖h→_t‖", "后向 ‖h←_t‖"]
    assert len(norms["data"][0]["y"]) == len(EXAMPLE_TEXTS[0])
    metrics = {m.label: m.value for m in at.metric}
    check = next(v for k, v in metrics.items() if "nn.LSTM" in k)
    assert float(check) < 1e-5  # stepwise concatenation == nn.LSTM(bidirectional=True) output
    assert metrics["每个方向（第 0 层）"] == "4,032" and metrics["两个方向合计（第 0 层）"] == "8,064"
    assert metrics["模块全部参数"] == f"{sum(p.numel() for p in nn.LSTM(16, 24, bidirectional=True).parameters()):,}"
    weights = at.dataframe[0].value
    assert list(weights.iloc[:, 0]) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert (weights["‖fwd − bwd‖_F"] > 0).all()


def test_changed_example_and_text(at: AppTest) -> None:
    at.selectbox(key="bidir_example").set_value(1).run()
    assert not at.exception
    assert any(m.value.endswith("＿＿，加满了九十五号汽油。") for m in at.markdown)
    diagram = next(s for s in _specs(at) if s["data"][0]["type"] == "scatter")
    assert diagram["data"][2]["text"][:3] == list(FILL_BLANK_EXAMPLES[1][0][:3])
    at.text_input(key="bidir_text").set_value("双向网络").run()
    norms = _norms(at)
    assert norms["layout"]["xaxis"]["ticktext"] == list("双向网络")
    # The backward state at the first token has read the whole sentence: it differs from
    # the forward one, which has read one character.
    assert norms["data"][0]["y"][0] != pytest.approx(norms["data"][1]["y"][0])
    at.text_input(key="bidir_text").set_value(" ").run()
    assert not at.exception and at.error


def test_shipped_bilstm_is_used_when_available(at: AppTest, monkeypatch) -> None:
    torch.manual_seed(0)
    rnn = nn.LSTM(5, 6, batch_first=True, bidirectional=True)
    tokens = list("新闻标题")
    trace = trace_module(rnn, torch.randn(1, len(tokens), 5))
    layers = [types.SimpleNamespace(layer=t.layer, direction=t.direction, kind=t.kind,
                                    states={k: v[0].detach().numpy() for k, v in t.states.items()})
              for t in trace.layers]  # fmt: skip
    predictor = types.SimpleNamespace(
        predict=lambda text: types.SimpleNamespace(tokens=tokens, layers=layers),
        model=types.SimpleNamespace(rnn=rnn),
    )
    fake = types.ModuleType("ui.models")
    fake.load_shipped = lambda name: predictor
    monkeypatch.setitem(sys.modules, "ui.models", fake)
    at.run()
    assert not at.exception
    assert "已训练" in at.success[0].value
    norms = _norms(at)
    np.testing.assert_allclose(norms["data"][1]["y"], np.linalg.norm(layers[1].states["h"], axis=1), rtol=1e-5)
    weights = at.dataframe[0].value
    W, W_rev = rnn.weight_hh_l0.detach(), rnn.weight_hh_l0_reverse.detach()
    assert weights.iloc[1]["‖fwd − bwd‖_F"] == pytest.approx(float(torch.linalg.norm(W - W_rev)), abs=1e-4)
    assert {m.label: m.value for m in at.metric}["模块全部参数"] == f"{sum(p.numel() for p in rnn.parameters()):,}"


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "Bidirectional RNN"
    assert any("Key points" in s.value for s in at.subheader)
    assert [t["name"] for t in _norms(at)["data"]] == ["forward ‖h→_t‖", "backward ‖h←_t‖"]


def test_with_a_real_shipped_checkpoint(at: AppTest, tmp_path: Path, monkeypatch) -> None:
    import ui.models
    from rnnviz.checkpoint import Checkpoint
    from rnnviz.models import ModelConfig, build_model
    from rnnviz.text import Vocab

    vocab = Vocab.build([list(EXAMPLE_TEXTS[0])])
    config = ModelConfig(vocab_size=len(vocab), num_classes=2, embed_dim=8, hidden_size=6, num_layers=1)
    model = build_model(config).eval()
    Checkpoint(model=model, config=config, vocab=vocab,
               classes=["a", "b"]).save(tmp_path / "textrnn.safetensors")  # fmt: skip
    monkeypatch.setattr(ui.models, "MODELS_DIR", tmp_path)
    at.run()
    assert not at.exception
    assert "已训练" in at.success[0].value
    assert len(_norms(at)["data"][0]["y"]) == len(EXAMPLE_TEXTS[0])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["每个方向（第 0 层）"] == f"{4 * (6 * 8 + 6 * 6 + 2 * 6):,}"
    assert metrics["模块全部参数"] == f"{sum(p.numel() for p in model.rnn.parameters()):,}"
