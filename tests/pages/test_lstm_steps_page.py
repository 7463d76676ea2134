"""The LSTM / GRU step-by-step page under AppTest: the numbers it writes are torch's, the token
buttons and the unit choice change them, the questions follow them, and a shipped GRU model
appears by itself."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from apptest_helpers import answer_question, open_page
from streamlit.testing.v1 import AppTest

from rnnviz.content import text
from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.models import ModelConfig, build_model
from rnnviz.core.text import Vocab
from rnnviz.lessons import longdep_models as ldm
from rnnviz.lessons import steps
from rnnviz.lessons.gating import EXAMPLE_TEXTS, demo_network
from rnnviz.lessons.longdep import KINDS, LongDepConfig
from rnnviz.lessons.longdep import build_model as build_longdep
from ui.models import load_shipped

PAGE = "pages/lstm_steps.py"
DOC = "lstm_steps"
TEXT = EXAMPLE_TEXTS[0]


def _w(key: str, lang: str = "zh", **values: object) -> str:
    return text(lang, DOC, key, **values)


def _numbers(tex: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+\.\d+", tex)]


def _reads(at: AppTest) -> str:
    """The line that names the step, its token and the units shown (Chinese page)."""
    return next(m.value for m in at.markdown if m.value.startswith("第 ") and "单元" in m.value)


def _shown_units(at: AppTest) -> list[int]:
    return [int(u) for u in re.findall(r"\d+", _reads(at).rsplit("单元", 1)[1])]


def _torch_state(rnn: torch.nn.LSTM | torch.nn.GRU, x: torch.Tensor, t: int) -> tuple:
    """(h_t, c_t) of layer 0's forward direction after tokens 1..t, from torch alone: a
    one-layer one-way copy of layer 0 run on the prefix."""
    cls = type(rnn)
    own = cls(rnn.input_size, rnn.hidden_size, batch_first=True)
    with torch.no_grad():
        for name, p in own.named_parameters():
            p.copy_(getattr(rnn, name))
        _, state = own(x[None, :t])
    if cls is torch.nn.LSTM:
        return state[0][0, 0].numpy(), state[1][0, 0].numpy()
    return state[0, 0].numpy(), None


@pytest.fixture
def at() -> AppTest:
    """The page with the models shipped on disk."""
    return open_page(PAGE)


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AppTest:
    """The page with no shipped model at all: no classifier, no long-dependency models."""
    monkeypatch.setattr(ldm, "LONGDEP_DIR", tmp_path / "longdep")
    return open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)


def _quiz_off(at: AppTest) -> AppTest:
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    assert not at.exception
    return at


def test_the_trained_lstm_is_stepped_with_torchs_numbers(at: AppTest) -> None:
    predictor = load_shipped("textrnn")
    assert predictor is not None, "the shipped Text-RNN is missing"
    # Layers are counted from 1, as on every other page; PyTorch's suffix l0 is named beside.
    assert at.success[0].value == _w("source.shipped", name="textrnn", layer=1, k=0)
    assert at.selectbox(key="steps_layer").options == [
        _w("layer.option", layer=1, k=0), _w("layer.option", layer=2, k=1)]
    _quiz_off(at)
    tokens, x = steps.classifier_inputs(predictor, TEXT)
    h_1, c_1 = _torch_state(predictor.model.rnn, x, 1)
    units = _shown_units(at)
    assert len(units) == 4 and units == list(np.argsort(-np.abs(h_1))[:4])  # the most active
    cell, output = at.latex[-2].value, at.latex[-1].value
    assert r"c_{1} &= f_{1} \odot c_{0}" in cell
    np.testing.assert_allclose(_numbers(cell)[-4:], c_1[units], atol=0.005 + 1e-9)
    np.testing.assert_allclose(_numbers(output)[-4:], h_1[units], atol=0.005 + 1e-9)


def test_next_and_previous_token_move_the_step(at: AppTest) -> None:
    predictor = load_shipped("textrnn")
    tokens, x = steps.classifier_inputs(predictor, TEXT)
    _quiz_off(at)
    at.button(key="steps_next").click().run()
    at.button(key="steps_next").click().run()
    assert at.slider(key="steps_t").value == 3
    assert f"「{tokens[2]}」" in _reads(at)
    h_3, c_3 = _torch_state(predictor.model.rnn, x, 3)
    units = _shown_units(at)
    assert r"c_{3} &= f_{3} \odot c_{2}" in at.latex[-2].value
    np.testing.assert_allclose(_numbers(at.latex[-2].value)[-4:], c_3[units], atol=0.005 + 1e-9)
    at.button(key="steps_prev").click().run()
    assert at.slider(key="steps_t").value == 2
    at.slider(key="steps_t").set_value(1).run()
    at.button(key="steps_prev").click().run()  # stays on the first token
    assert at.slider(key="steps_t").value == 1


def test_chosen_units_change_the_vectors(at: AppTest) -> None:
    predictor = load_shipped("textrnn")
    _, x = steps.classifier_inputs(predictor, TEXT)
    _quiz_off(at)
    at.radio(key="steps_units_mode").set_value("chosen").run()
    at.multiselect(key="steps_units").set_value([3, 100]).run()
    assert not at.exception
    assert _shown_units(at) == [3, 100]
    h_1, _ = _torch_state(predictor.model.rnn, x, 1)
    np.testing.assert_allclose(_numbers(at.latex[-1].value)[-2:], h_1[[3, 100]], atol=0.005 + 1e-9)
    at.multiselect(key="steps_units").set_value([]).run()
    assert not at.exception and at.warning[-1].value == _w("units.none")


def test_the_cell_question_follows_the_live_numbers(at: AppTest) -> None:
    predictor = load_shipped("textrnn")
    tokens, x = steps.classifier_inputs(predictor, TEXT)
    assert r"c_{1}" not in "".join(m.value for m in at.latex)  # step 3 held back
    at.slider(key="steps_t").set_value(4).run()
    step = steps.step_at(predictor.model.rnn, x, tokens, 3)
    unit = steps.most_active(step, 4)[0]
    right = "grow" if abs(step.out["c"][unit]) > abs(step.c_prev[unit]) else "shrink"
    wrong = "shrink" if right == "grow" else "grow"
    answer_question(at, "q_cell", wrong)
    assert any(w.value.startswith("不对") and _w(f"q_cell.opt.{right}") in w.value
               for w in at.warning)
    assert r"c_{4} &= f_{4} \odot c_{3}" in at.latex[-1].value  # step 3 revealed
    # The output question is asked next, from this unit's pre-activation.
    a = step.terms["o"].pre[unit]
    answer_question(at, "q_output", "yes" if a > 0 else "no")
    assert any(s.value.startswith("答对了") for s in at.success)
    assert r"h_{4} &= o_{4} \odot \tanh(c_{4})" in at.latex[-1].value
    # Another token: new numbers, a new question.
    at.button(key="steps_next").click().run()
    assert [r for r in at.radio if r.key == "quiz_q_cell_choice"]


def test_gru_without_a_shipped_model_says_it_is_untrained_and_asks(bare: AppTest) -> None:
    at = bare
    at.radio(key="steps_kind").set_value("gru").run()
    assert not at.exception
    assert at.warning[0].value == _w("source.demo", kind="GRU")
    assert at.info[0].value == _w("source.none", kind="GRU")
    net = demo_network("gru")
    tokens, x = steps.demo_inputs(net, TEXT)
    step = steps.step_at(net.rnn, x, tokens, 0)
    unit = steps.most_active(step, 4)[0]
    share = steps.reset_share(step, unit)
    answer_question(at, "q_reset", share)
    assert any(s.value.startswith("答对了") for s in at.success)
    keep = "old" if step.out["z"][unit] > 0.5 else "candidate"
    answer_question(at, "q_keep", keep)
    assert not at.exception
    hidden = at.latex[-1].value
    assert r"h_{1} &= (1 - z_{1}) \odot n_{1} + z_{1} \odot h_{0}" in hidden
    h_1, _ = _torch_state(net.rnn, x, 1)
    units = _shown_units(at)
    np.testing.assert_allclose(_numbers(hidden)[-4:], h_1[units], atol=0.005 + 1e-9)


def _ship_gru(directory: Path, text_: str) -> torch.nn.GRU:
    vocab = Vocab.build([list(text_)])
    config = ModelConfig(vocab_size=len(vocab), num_classes=2, embed_dim=8, hidden_size=6,
                         num_layers=2, cell="gru")
    model = build_model(config).eval()
    Checkpoint(model=model, config=config, vocab=vocab,
               classes=["a", "b"]).save(directory / "textrnn.safetensors")
    return model


def test_a_shipped_gru_classifier_appears_by_itself(monkeypatch, tmp_path: Path) -> None:
    model = _ship_gru(tmp_path, TEXT)
    monkeypatch.setattr(ldm, "LONGDEP_DIR", tmp_path / "longdep")
    at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)
    at.radio(key="steps_kind").set_value("gru").run()
    assert not at.exception
    assert at.selectbox(key="steps_model_gru").value == "textrnn"
    assert at.success[0].value == _w("source.shipped", name="textrnn", layer=1, k=0)
    _quiz_off(at)
    at.selectbox(key="steps_layer").set_value(1).run()  # layer 1 reads layer 0's [h→; h←]
    assert at.success[0].value == _w("source.shipped", name="textrnn", layer=2, k=1)
    predictor = load_shipped("textrnn")
    _, x = steps.classifier_inputs(predictor, TEXT)
    with torch.no_grad():
        out, _ = predictor.model.rnn(x[None])  # (1, T, 2H): layer 1's [h→; h←]
    units = _shown_units(at)
    shown = _numbers(at.latex[-1].value)[-len(units):]
    np.testing.assert_allclose(shown, out[0, 0, units].numpy(), atol=0.005 + 1e-9)
    assert predictor.model.rnn is not model.rnn and isinstance(model.rnn, torch.nn.GRU)
    # The LSTM list holds no GRU model, only the demo.
    at.radio(key="steps_kind").set_value("lstm").run()
    assert at.selectbox(key="steps_model_lstm").options == [_w("model.demo")]


def _ship_longdep(directory: Path, length: int) -> ldm.TrainedSet:
    """A long-dependency set in the shipped format (untrained weights, seed 0)."""
    configs = {k: LongDepConfig(length=length, steps=1) for k in KINDS}
    models = {k: build_longdep(k, configs[k]).eval() for k in KINDS}
    trained = ldm.TrainedSet(length, models, configs, {k: 0.25 for k in KINDS})
    ldm.save_set(trained, ldm.path_for(length, directory))
    return trained


def test_the_long_dependency_models_are_listed_and_stepped(monkeypatch, tmp_path: Path) -> None:
    length = ldm.LENGTHS[0]
    trained = _ship_longdep(tmp_path / "longdep", length)
    monkeypatch.setattr(ldm, "LONGDEP_DIR", tmp_path / "longdep")
    ldm.load_shipped.cache_clear()  # loaded once per process: read the test's file
    try:
        at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)
        at.radio(key="steps_kind").set_value("gru").run()
        assert not at.exception
        assert at.selectbox(key="steps_model_gru").options == [
            _w("model.longdep", kind="GRU", T=length), _w("model.demo")]
        tokens, x, label = steps.longdep_inputs(trained, "gru", 0)
        assert at.success[0].value == _w("source.longdep", kind="GRU", T=length, acc=0.25,
                                         label=label)
        assert tokens[0] == label and len(tokens) == length
        _quiz_off(at)
        at.slider(key="steps_t").set_value(5).run()
        h_5, _ = _torch_state(trained.models["gru"].rnn, x, 5)
        units = _shown_units(at)
        np.testing.assert_allclose(_numbers(at.latex[-1].value)[-len(units):], h_5[units],
                                   atol=0.005 + 1e-9)
        other = steps.longdep_inputs(trained, "gru", 3)[0]
        t = next(i for i, (a, b) in enumerate(zip(tokens, other, strict=True)) if a != b) + 1
        at.number_input(key="steps_sequence").set_value(3).run()  # another sequence
        at.slider(key="steps_t").set_value(t).run()
        assert f"第 {t} 步读入「{other[t - 1]}」" in _reads(at)
    finally:
        ldm.load_shipped.cache_clear()


def test_shorter_text_keeps_the_token_in_range_and_blank_text_is_an_error(at: AppTest) -> None:
    at.slider(key="steps_t").set_value(10).run()
    at.text_input(key="steps_text").set_value("你好").run()
    assert not at.exception
    assert at.slider(key="steps_t").value == 2
    at.text_input(key="steps_text").set_value("   ").run()
    assert not at.exception and at.error


def test_english(bare: AppTest) -> None:
    at = bare
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "LSTM and GRU step by step"
    assert at.warning[0].value == _w("source.demo", "en", kind="LSTM")
    assert _w("lstm.forget.header", "en") in [s.value for s in at.subheader]
    assert any(m.value.startswith("**Think first:** Unit") for m in at.markdown)
    assert [s.value for s in at.subheader][-1] == "Key points"
    at.radio(key="steps_kind").set_value("gru").run()
    assert at.warning[0].value == _w("source.demo", "en", kind="GRU")
