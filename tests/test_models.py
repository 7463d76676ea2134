"""TextRNN / TextRCNN: shapes, padding that never leaks, config validation, parameter counts."""

from __future__ import annotations

import itertools

import pytest
import torch
from helpers import build_with_bigram_keys

from rnnviz.core.bigrams import lookup_bigrams
from rnnviz.core.config import CELLS, POOLINGS
from rnnviz.core.models import ModelConfig, TextRCNN, TextRNN, count_parameters
from rnnviz.errors import RnnVizError

V, C, E, H, P = 30, 4, 5, 6, 7  # vocabulary, classes, embedding, hidden, RCNN projection
LENGTHS = [6, 2, 4, 1]  # unsorted, one full, one single token
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


def _config(**overrides) -> ModelConfig:
    settings = dict(vocab_size=V, num_classes=C, embed_dim=E, hidden_size=H, num_layers=2,
                    rcnn_proj=P, dropout=0.3, embed_dropout=0.2)
    return ModelConfig(**{**settings, **overrides})


def _model(**overrides) -> TextRNN | TextRCNN:
    return build_with_bigram_keys(_config(**overrides))


def _batch(pad_with: str = "pad") -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) ids with real tokens 2..V-1, padding <PAD> or random garbage ids."""
    g = torch.Generator().manual_seed(7)
    T = max(LENGTHS)
    ids = torch.randint(2, V, (len(LENGTHS), T), generator=g)
    pad = torch.arange(T)[None, :] >= torch.tensor(LENGTHS)[:, None]
    if pad_with == "pad":
        filler = torch.zeros_like(ids)
    else:
        filler = torch.randint(0, V, ids.shape, generator=g)
    return torch.where(pad, filler, ids), torch.tensor(LENGTHS)


TEXTRNN_CASES = [
    dict(model="textrnn", cell=c, pooling=p, bidirectional=b)
    for c, p, b in itertools.product(CELLS, POOLINGS, (True, False))
]
TEXTRCNN_CASES = [dict(model="textrcnn", cell=c, num_layers=n) for c in CELLS for n in (1, 2)]
BIGRAM_CASES = [
    dict(model="textrnn", cell="lstm", pooling="meanmax", bigram_dim=3, bigram_vocab=50),
    dict(model="textrcnn", cell="gru", bigram_dim=3, bigram_vocab=50),
]
ALL_CASES = TEXTRNN_CASES + TEXTRCNN_CASES + BIGRAM_CASES


def _case_id(case: dict) -> str:
    return "-".join(str(v) for v in case.values())


@pytest.mark.parametrize("case", ALL_CASES, ids=_case_id)
def test_shapes(case: dict) -> None:
    model = _model(**case)
    ids, lengths = _batch()
    B, T = ids.shape
    emb = model.embed(ids)
    assert emb.shape == (B, T, model.config.input_size)
    assert model.config.input_size == E + case.get("bigram_dim", 0)
    assert model(ids, lengths).shape == (B, C)
    assert model.classify(emb, lengths).shape == (B, C)
    D = model.config.directions
    assert (2 if case.get("bidirectional", True) or case["model"] == "textrcnn" else 1) == D
    assert model.rnn.bidirectional == (D == 2)
    if isinstance(model, TextRCNN):
        assert model.token_features(emb, lengths).shape == (B, T, P)
    else:
        width = D * H * (2 if case["pooling"] == "meanmax" else 1)
        assert model.pooled(emb, lengths).shape == (B, width)


@pytest.mark.parametrize("case", ALL_CASES, ids=_case_id)
def test_padding_never_leaks(case: dict) -> None:
    """Each padded row equals the same text alone, unpadded; garbage in the padding changes
    nothing either."""
    model = _model(**case)
    ids, lengths = _batch("pad")
    garbage_ids, _ = _batch("garbage")
    assert not torch.equal(ids, garbage_ids)
    with torch.no_grad():
        padded = model(ids, lengths)
        garbage = model(garbage_ids, lengths)
        for b, n in enumerate(LENGTHS):
            alone = model(ids[b : b + 1, :n], torch.tensor([n]))[0]
            torch.testing.assert_close(padded[b], alone, rtol=0, atol=1e-6)
    torch.testing.assert_close(garbage, padded, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cell", CELLS)
def test_last_pooling_reads_each_direction_at_its_own_last_real_token(cell: str) -> None:
    model = _model(model="textrnn", cell=cell, pooling="last")
    ids, lengths = _batch()
    with torch.no_grad():
        emb = model.embed(ids)
        pooled = model.pooled(emb, lengths)
        for b, n in enumerate(LENGTHS):
            out, _ = model.rnn(emb[b : b + 1, :n])  # (1, n, 2H), torch's module on the text alone
            forward_last, backward_first = out[0, n - 1, :H], out[0, 0, H:]
            torch.testing.assert_close(pooled[b], torch.cat([forward_last, backward_first]),
                                       rtol=0, atol=1e-6)


def test_rcnn_max_pools_over_real_tokens_only() -> None:
    model = _model(model="textrcnn", cell="lstm", num_layers=1)
    ids, lengths = _batch()
    with torch.no_grad():
        emb = model.embed(ids)
        y = model.token_features(emb, lengths)  # (B, T, P)
        logits = model.classify(emb, lengths)
        for b, n in enumerate(LENGTHS):
            torch.testing.assert_close(logits[b], model.fc(y[b, :n].max(0).values), rtol=0,
                                       atol=1e-6)


def test_rcnn_features_are_tanh_of_left_context_word_right_context() -> None:
    model = _model(model="textrcnn", cell="gru", num_layers=1)
    ids = torch.randint(2, V, (1, 5))
    with torch.no_grad():
        emb = model.embed(ids)
        out, _ = model.rnn(emb)  # (1, 5, 2H)
        expected = torch.tanh(model.proj(torch.cat([out[..., :H], emb, out[..., H:]], -1)))
        torch.testing.assert_close(model.token_features(emb, torch.tensor([5])), expected)


def test_bigram_embedding_looks_up_known_pairs_and_zeroes_unknown_ones() -> None:
    model = _model(model="textrnn", bigram_dim=3, bigram_vocab=4)
    keys = torch.tensor([0 * V + 5, 5 * V + 6, 6 * V + 7, 9 * V + 9])  # (prev, id) pairs
    model.set_bigram_keys(keys.flip(0))  # any order in, sorted inside
    ids = torch.tensor([[5, 6, 7, 8]])  # bigrams (<PAD>,5) (5,6) (6,7) (7,8): the last unknown
    rows = model.bigram_ids(ids)
    assert rows.tolist() == [[1, 2, 3, 0]]
    emb = model.embed(ids)
    torch.testing.assert_close(emb[0, :, :E], model.embedding.weight[ids[0]])
    torch.testing.assert_close(emb[0, :3, E:], model.bigram.weight[1:4])
    assert torch.count_nonzero(emb[0, 3, E:]) == 0  # unknown bigram: the zero padding row
    with pytest.raises(RnnVizError, match="expected 4 bigram keys, got 2"):
        model.set_bigram_keys(torch.tensor([1, 2]))


def test_lookup_bigrams_against_a_dictionary() -> None:
    g = torch.Generator().manual_seed(0)
    known = torch.randperm(400, generator=g)[:37].sort().values
    queries = torch.randint(0, 400, (5, 9), generator=g)
    table = {int(k): i + 1 for i, k in enumerate(known)}
    expected = [[table.get(int(q), 0) for q in row] for row in queries]
    assert lookup_bigrams(known, queries).tolist() == expected
    assert lookup_bigrams(torch.tensor([], dtype=torch.long), queries).eq(0).all()


def test_eval_mode_is_deterministic_and_train_mode_applies_dropout() -> None:
    model = _model(model="textrnn", cell="lstm", pooling="mean", dropout=0.5, embed_dropout=0.5)
    ids, lengths = _batch()
    with torch.no_grad():
        assert torch.equal(model(ids, lengths), model(ids, lengths))
        model.train()
        assert not torch.equal(model(ids, lengths), model(ids, lengths))


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("model", "cnn", "unknown model 'cnn'"),
        ("cell", "transformer", "unknown cell 'transformer'"),
        ("pooling", "attention", "unknown pooling 'attention'"),
        ("tokenizer", "bpe", "unknown tokenizer 'bpe'"),
        ("vocab_size", 1, "must include <PAD> and <UNK>"),
        ("num_classes", 1, "at least two classes"),
        ("embed_dim", 0, "positive integer"),
        ("hidden_size", -3, "positive integer"),
        ("num_layers", 1.5, "positive integer"),
        ("max_len", 0, "positive integer"),
        ("dropout", 1.0, r"\[0, 1\)"),
        ("embed_dropout", -0.1, r"\[0, 1\)"),
        ("rcnn_proj", 0, "positive integer"),
        ("bigram_dim", -1, ">= 0"),
        ("bigram_vocab", 2.5, ">= 0"),
    ],
)
def test_config_validation_names_the_field(field: str, value, match: str) -> None:
    with pytest.raises(RnnVizError, match=match) as info:
        _config(**{field: value})
    assert str(info.value).startswith("config.")
    assert info.value.where.startswith("config.")


def test_config_dict_round_trip_and_refusals() -> None:
    config = _config(cell="gru", pooling="max", bigram_dim=2, bigram_vocab=9)
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(RnnVizError, match=r"unknown config fields \['colour', 'size'\]"):
        ModelConfig.from_dict({**config.to_dict(), "size": 3, "colour": "red"})
    with pytest.raises(RnnVizError, match="must be a JSON object"):
        ModelConfig.from_dict([("cell", "gru")])  # type: ignore[arg-type]
    with pytest.raises(RnnVizError, match="unknown cell"):
        ModelConfig.from_dict({"cell": "LSTM"})


def _rnn_params(cell: str, input_size: int, layers: int, directions: int) -> int:
    """Closed form: each layer and direction has G gates of W_ih (H x I), W_hh (H x H), b_ih,
    b_hh; layers above the first read the D*H outputs below."""
    G = GATES[cell]
    total = 0
    for layer in range(layers):
        I = input_size if layer == 0 else directions * H  # noqa: E741 (the math's name)
        total += directions * G * (H * I + H * H + 2 * H)
    return total


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [True, False])
def test_count_parameters_textrnn_closed_form(cell: str, bidirectional: bool) -> None:
    D = 2 if bidirectional else 1
    for pooling, width in (("last", D * H), ("meanmax", 2 * D * H)):
        model = _model(model="textrnn", cell=cell, pooling=pooling, bidirectional=bidirectional)
        expected = V * E + _rnn_params(cell, E, 2, D) + width * C + C
        assert count_parameters(model) == expected


@pytest.mark.parametrize("cell", CELLS)
def test_count_parameters_textrcnn_closed_form_with_bigrams(cell: str) -> None:
    Eb, K = 3, 11
    model = _model(model="textrcnn", cell=cell, num_layers=1, bigram_dim=Eb, bigram_vocab=K)
    I = E + Eb  # noqa: E741
    expected = (V * E + (K + 1) * Eb  # token and bigram embeddings (row 0: unknown bigram)
                + _rnn_params(cell, I, 1, 2)
                + (2 * H + I) * P + P  # projection of [c_left; e; c_right]
                + P * C + C)  # classifier
    assert count_parameters(model) == expected
    assert "bigram_keys" in dict(model.named_buffers())  # a buffer, not a parameter
