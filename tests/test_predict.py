"""Predictor: probabilities, gates and importance checked against independent computations."""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import build_with_bigram_keys

from rnnviz.core.cells import GATES
from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.models import ModelConfig, build_model
from rnnviz.core.predict import Prediction, Predictor
from rnnviz.core.text import PAD, UNK, Vocab, encode_text
from rnnviz.core.trace import trace_module
from rnnviz.core.train import make_batches
from rnnviz.errors import RnnVizError

CHARS = "今天股市上涨球赛冠军电影明星中国女排夺"
CLASSES = ["finance", "sports", "entertainment"]
TEXTS = ["今天股市上涨", "中国女排夺冠", "电影明星", "球", "股市今天上涨明星夺冠球赛"]


pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


def _predictor(max_len: int = 24, **overrides) -> Predictor:
    vocab = Vocab((PAD, UNK, *CHARS))
    settings = dict(vocab_size=len(vocab), num_classes=len(CLASSES), embed_dim=8, hidden_size=6,
                    num_layers=2, rcnn_proj=5, max_len=max_len)
    config = ModelConfig(**{**settings, **overrides})
    model = build_with_bigram_keys(config)
    with torch.no_grad():  # larger weights than the default init: gates away from 0.5
        for p in model.parameters():
            p.mul_(3.0)
    return Predictor(Checkpoint(model.eval(), config, vocab, list(CLASSES)), name="toy")


CONFIGS = {
    "rnn-lstm-last": dict(model="textrnn", cell="lstm", pooling="last"),
    "rnn-gru-mean-uni": dict(model="textrnn", cell="gru", pooling="mean", bidirectional=False),
    "rnn-rnn-max-bigram": dict(model="textrnn", cell="rnn", pooling="max", bigram_dim=3,
                               bigram_vocab=40),
    "rnn-lstm-meanmax-1layer": dict(model="textrnn", cell="lstm", pooling="meanmax", num_layers=1),
    "rcnn-lstm": dict(model="textrcnn", cell="lstm", num_layers=1),
    "rcnn-gru-2layer": dict(model="textrcnn", cell="gru", num_layers=2),
}


@pytest.fixture(scope="module", params=list(CONFIGS), ids=list(CONFIGS))
def predictor(request) -> Predictor:
    torch.manual_seed(1)
    return _predictor(**CONFIGS[request.param])


def _ids(p: Predictor, text: str) -> torch.Tensor:
    return torch.tensor([encode_text(text, p.tokenizer, p.vocab, p.config.max_len).ids])


def test_probabilities_sum_to_one_and_match_a_plain_forward(predictor: Predictor) -> None:
    for text in TEXTS:
        pred = predictor.predict(text)
        ids = _ids(predictor, text)
        with torch.no_grad():
            expected = torch.softmax(predictor.model(ids, torch.tensor([ids.shape[1]])), -1)[0]
        assert list(pred.probabilities) == CLASSES
        got = np.array(list(pred.probabilities.values()))
        assert got.sum() == pytest.approx(1.0, abs=1e-6)
        np.testing.assert_allclose(got, expected.numpy(), rtol=0, atol=1e-6)
        assert pred.label_index == int(expected.argmax())
        assert pred.label == CLASSES[pred.label_index]
        assert pred.tokens == list(text) and pred.max_tokens == predictor.config.max_len


def test_gates_match_trace_module_and_the_nn_module(predictor: Predictor) -> None:
    text = TEXTS[-1]
    pred = predictor.predict(text)
    emb = predictor.model.embed(_ids(predictor, text))
    with torch.no_grad():
        reference = trace_module(predictor.model.rnn, emb)
        output, _ = predictor.model.rnn(emb)  # (1, T, D*H): torch's own LSTM/GRU/RNN
    cfg = predictor.config
    assert len(pred.layers) == cfg.num_layers * cfg.directions
    H, T = cfg.hidden_size, len(text)
    for got, ref in zip(pred.layers, reference.layers, strict=True):
        assert (got.layer, got.direction, got.kind) == (ref.layer, ref.direction, cfg.cell)
        assert list(got.states) == list(GATES[cfg.cell])
        for name, s in got.states.items():
            assert s.shape == (T, H) and s.dtype == np.float32
            # float32: the two kernels round differently
            np.testing.assert_allclose(s, ref.states[name][0].numpy(), rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(got.hidden_norm, np.linalg.norm(got.states["h"], axis=1),
                                   rtol=1e-6)
    # The top layer's h, forward then backward, is what torch's module outputs.
    top = [t for t in pred.layers if t.layer == cfg.num_layers - 1]
    h_top = np.concatenate([t.states["h"] for t in top], axis=-1)
    np.testing.assert_allclose(h_top, output[0].numpy(), rtol=0, atol=1e-5)


def _logit_of_class(model: torch.nn.Module, emb: torch.Tensor, k: int) -> torch.Tensor:
    return model.classify(emb, torch.tensor([emb.shape[1]]))[0, k]


def test_importance_matches_torch_func_gradient_times_input(predictor: Predictor) -> None:
    text = TEXTS[-1]
    pred = predictor.predict(text, with_trace=False)
    emb = predictor.model.embed(_ids(predictor, text)).detach()
    grad = torch.func.grad(lambda e: _logit_of_class(predictor.model, e, pred.label_index))(emb)
    raw = (grad * emb).sum(-1)[0]
    expected = (raw / raw.abs().max()).numpy()
    assert pred.importance.shape == (len(text),)
    np.testing.assert_allclose(pred.importance, expected, rtol=0, atol=1e-5)
    assert np.abs(pred.importance).max() == pytest.approx(1.0)


def test_importance_matches_finite_differences_in_float64() -> None:
    """d logit_k / d alpha at alpha = 1, scaling one token's vector e_t by alpha, is exactly
    that token's gradient x input; central differences in float64 check every token."""
    torch.manual_seed(2)
    p = _predictor(model="textrnn", cell="lstm", pooling="meanmax")
    text = "股市今天上涨"
    pred = p.predict(text)
    model64 = copy.deepcopy(p.model).double()
    emb = model64.embed(_ids(p, text)).detach()
    eps = 1e-6
    fd = []
    with torch.no_grad():
        for t in range(emb.shape[1]):
            up, down = emb.clone(), emb.clone()
            up[0, t] *= 1 + eps
            down[0, t] *= 1 - eps
            diff = _logit_of_class(model64, up, pred.label_index) - _logit_of_class(
                model64, down, pred.label_index)
            fd.append(float(diff) / (2 * eps))
    fd = np.array(fd)
    np.testing.assert_allclose(pred.importance, fd / np.abs(fd).max(), rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_padded_batch_gives_the_same_probabilities_as_each_text_alone(name: str) -> None:
    torch.manual_seed(3)
    p = _predictor(**CONFIGS[name])
    encoded = [encode_text(t, p.tokenizer, p.vocab, p.config.max_len).ids for t in TEXTS]
    (batch,) = make_batches(encoded, [0] * len(TEXTS), len(TEXTS), shuffle=False, bucket=False)
    assert int((batch.ids == 0).sum()) > 0  # the batch really is padded
    with torch.no_grad():
        batched = torch.softmax(p.model(batch.ids, batch.lengths), -1).numpy()
    many = p.predict_many(TEXTS, batch_size=2)
    for i, text in enumerate(TEXTS):
        alone = np.array(list(p.predict(text).probabilities.values()))
        np.testing.assert_allclose(alone, batched[i], rtol=0, atol=1e-5)
        np.testing.assert_allclose(list(many[i][1].values()), batched[i], rtol=0, atol=1e-5)
        assert many[i][0] == CLASSES[int(batched[i].argmax())]


@pytest.mark.parametrize(
    "text", ["", "   ", "\n\t \r", "\x00\x01\x1f", "\u200b\u200d\ufeff", " \x7f "])
def test_text_without_tokens_is_refused(text: str) -> None:
    with pytest.raises(RnnVizError, match="empty"):
        _predictor().predict(text)


def test_text_of_only_unknown_characters_still_gets_a_result() -> None:
    pred = _predictor().predict("☃☄⚡ xyz")
    assert pred.tokens == ["☃", "☄", "⚡", "x", "y", "z"]
    assert pred.unknown == [True] * 6
    assert sum(pred.probabilities.values()) == pytest.approx(1.0, abs=1e-6)


def test_emoji_are_tokens_marked_unknown() -> None:
    pred = _predictor().predict("今天😀股市👍🏽上涨")
    assert pred.tokens == ["今", "天", "😀", "股", "市", "👍", "🏽", "上", "涨"]
    assert pred.unknown == [False, False, True, False, False, True, True, False, False]
    assert len(pred.layers[0].states["h"]) == len(pred.tokens) == len(pred.importance)


def test_very_long_text_is_truncated_and_says_so() -> None:
    p = _predictor(max_len=16)
    pred = p.predict("股市" * 50_000)  # 100,000 characters
    assert pred.truncated
    assert len(pred.tokens) == 16 and pred.max_tokens == 16
    assert pred.total_tokens > 16
    assert pred.layers[0].states["h"].shape == (16, 6)
    short = p.predict("股市" * 8)
    assert not short.truncated and short.total_tokens == 16


def test_word_tokenizer_model_predicts_words() -> None:
    vocab = Vocab((PAD, UNK, "股市", "今天", "上涨"))
    config = ModelConfig(vocab_size=len(vocab), num_classes=2, embed_dim=4, hidden_size=3,
                         num_layers=1, tokenizer="word")
    p = Predictor(Checkpoint(build_model(config).eval(), config, vocab, ["a", "b"]))
    pred = p.predict("今天股市上涨")
    assert pred.tokens == ["今天", "股市", "上涨"] and pred.unknown == [False] * 3


def test_to_json_is_plain_json_with_the_documented_keys() -> None:
    p = _predictor(cell="gru")
    pred = p.predict("今天股市上涨☃")
    out = json.loads(json.dumps(pred.to_json(), allow_nan=False))
    assert {"label", "label_index", "probabilities", "tokens", "unknown", "truncated",
            "total_tokens", "importance", "trace"} <= set(out)
    T, H = 7, 6
    assert out["label"] == pred.label and out["tokens"] == pred.tokens
    assert out["unknown"] == [False] * 6 + [True]
    assert out["importance"] == pytest.approx(pred.importance.tolist(), abs=1e-5)
    assert len(out["trace"]) == 4  # 2 layers x 2 directions
    for entry, layer in zip(out["trace"], pred.layers, strict=True):
        assert set(entry) == {"layer", "direction", "kind", "gates", "hidden_norm", "importance"}
        assert entry["kind"] == "gru" and list(entry["gates"]) == ["r", "z", "n", "h"]
        for name, rows in entry["gates"].items():
            assert len(rows) == T and all(len(r) == H for r in rows)
            np.testing.assert_allclose(np.array(rows), layer.states[name], rtol=0, atol=1e-5)
        assert len(entry["hidden_norm"]) == T and len(entry["importance"]) == T
    assert p.predict("今天", with_trace=False).to_json()["trace"] == []


def test_without_trace_there_are_no_layers_but_the_same_result() -> None:
    p = _predictor()
    full, bare = p.predict("中国女排夺冠"), p.predict("中国女排夺冠", with_trace=False)
    assert bare.layers == [] and len(full.layers) == 4
    assert bare.probabilities == full.probabilities
    np.testing.assert_array_equal(bare.importance, full.importance)


def test_predict_works_inside_inference_mode_and_never_touches_parameters() -> None:
    p = _predictor()
    expected = p.predict("股市上涨")
    with torch.inference_mode():
        got = p.predict("股市上涨")
    with torch.no_grad():
        got_no_grad = p.predict("股市上涨")
    for other in (got, got_no_grad):
        assert other.probabilities == expected.probabilities
        np.testing.assert_array_equal(other.importance, expected.importance)
    assert all(not q.requires_grad and q.grad is None for q in p.model.parameters())
    assert not p.model.training


def test_concurrent_predictions_equal_sequential_ones() -> None:
    p = _predictor(pooling="meanmax")
    texts = [t + s for t in TEXTS for s in ("", "夺冠", "☃")] * 2  # 30 texts
    sequential = [p.predict(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(p.predict, texts))
    for a, b in zip(sequential, concurrent, strict=True):
        assert a.tokens == b.tokens and a.label == b.label
        np.testing.assert_allclose(list(a.probabilities.values()), list(b.probabilities.values()),
                                   rtol=0, atol=1e-6)
        np.testing.assert_allclose(a.importance, b.importance, rtol=0, atol=1e-5)
        for la, lb in zip(a.layers, b.layers, strict=True):
            for name in la.states:
                np.testing.assert_allclose(la.states[name], lb.states[name], rtol=0, atol=1e-6)
    assert all(q.grad is None for q in p.model.parameters())


def test_predict_many_keeps_order_and_names_an_empty_text() -> None:
    p = _predictor()
    many = p.predict_many(TEXTS, batch_size=3)
    assert [label for label, _ in many] == [p.predict(t).label for t in TEXTS]
    assert p.predict_many([]) == []
    with pytest.raises(RnnVizError, match="text 2.*empty"):
        p.predict_many(["股市", "  ", "球赛"])


def test_from_file_and_from_bytes_name_the_predictor(tmp_path: Path) -> None:
    p = _predictor()
    path = p.checkpoint.save(tmp_path / "mine.safetensors")
    from_file = Predictor.from_file(path)
    from_bytes = Predictor.from_bytes(path.read_bytes(), name="upload.safetensors")
    assert from_file.name == "mine.safetensors" and from_bytes.name == "upload.safetensors"
    expected = p.predict("中国女排夺冠")
    for q in (from_file, from_bytes):
        got = q.predict("中国女排夺冠")
        assert got.probabilities == expected.probabilities
        assert isinstance(got, Prediction) and q.classes == CLASSES
