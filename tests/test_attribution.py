"""rnnviz/core/attribution.py: occlusion equals one forward per deletion done the slow way;
connectivity equals autograd (and finite differences) on the embedded input; gradient x input is
the predictor's importance; the max-pool and gate evidence is the model's own; the disagreement
rules; bad input gets a clear message."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import build_with_bigram_keys

from rnnviz.core.attribution import (
    POOL_TIE,
    PoolWinners,
    all_unknown,
    compare,
    find_disagreements,
    gate_saturation,
    gradients,
    next_bigram_known,
    occlusion,
    occlusion_inputs,
    pool_winners,
    scaled,
)
from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.models import ModelConfig
from rnnviz.core.predict import Predictor
from rnnviz.core.text import PAD, PAD_ID, UNK, UNK_ID, Vocab
from rnnviz.core.trace import trace_module
from rnnviz.errors import RnnVizError

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")

CHARS = "股市基金银行利率上涨球队比赛冠军"
TEXT = "股市上涨银行利率球队"
# The architectures whose padding and pooling differ: TextRNN max-pooled with bigrams, a
# unidirectional GRU read to its last step (the course's model), mean pooling, and RCNN.
MODELS = {
    "bilstm_max_bigram": dict(model="textrnn", cell="lstm", bidirectional=True, pooling="max",
                              bigram_dim=3, bigram_vocab=30, num_layers=2),
    "gru_last": dict(model="textrnn", cell="gru", bidirectional=False, pooling="last",
                     num_layers=2),
    "rnn_mean": dict(model="textrnn", cell="rnn", bidirectional=True, pooling="mean"),
    "rcnn_gru": dict(model="textrcnn", cell="gru", bigram_dim=3, bigram_vocab=30),
}


def _predictor(name: str, seed: int = 0, dtype: torch.dtype = torch.float32) -> Predictor:
    torch.manual_seed(seed)
    vocab = Vocab((PAD, UNK, *CHARS))
    settings: dict = dict(vocab_size=len(vocab), num_classes=3, embed_dim=6, hidden_size=5,
                          num_layers=1, rcnn_proj=4, max_len=128)
    settings.update(MODELS[name])
    config = ModelConfig(**settings)
    net = build_with_bigram_keys(config)
    with torch.no_grad():
        for p in net.parameters():
            if p.is_floating_point():
                p.mul_(3.0)
    predictor = Predictor(Checkpoint(net, config, vocab, ["a", "b", "c"]), name=name)
    predictor.model.to(dtype)
    return predictor


@pytest.fixture(scope="module", params=list(MODELS))
def predictor(request: pytest.FixtureRequest) -> Predictor:
    return _predictor(request.param)


def _ids(predictor: Predictor, text: str) -> list[int]:
    return predictor.vocab.encode(list(text))


def _p_k(predictor: Predictor, ids: list[int], k: int) -> tuple[float, float]:
    """(p_k, z_k) from one forward of one unpadded row: the slow way."""
    with torch.no_grad():
        z = predictor.model(torch.tensor([ids]), torch.tensor([len(ids)]))[0]
    return float(torch.softmax(z, -1)[k]), float(z[k])


def test_occlusion_equals_one_forward_per_deletion(predictor: Predictor) -> None:
    occ = occlusion(predictor, TEXT)
    ids = _ids(predictor, TEXT)
    k = occ.label_index
    assert occ.forwards == 1
    p0, z0 = _p_k(predictor, ids, k)
    assert occ.base_probability == pytest.approx(p0, abs=1e-6)
    assert occ.base_logit == pytest.approx(z0, abs=1e-5)
    for t in range(len(ids)):
        p_del, z_del = _p_k(predictor, ids[:t] + ids[t + 1 :], k)
        p_unk, z_unk = _p_k(predictor, ids[:t] + [UNK_ID] + ids[t + 1 :], k)
        assert occ.deleted[t] == pytest.approx(p_del, abs=1e-6)
        assert occ.deleted_logit[t] == pytest.approx(z_del, abs=1e-5)
        assert occ.unk[t] == pytest.approx(p_unk, abs=1e-6)
        assert occ.unk_logit[t] == pytest.approx(z_unk, abs=1e-5)
    np.testing.assert_allclose(occ.drop_deleted, p0 - occ.deleted, atol=1e-7)
    # Split into several forwards when the batch would be too large: the same numbers.
    small = occlusion(predictor, TEXT, max_batch_tokens=3 * len(ids))
    assert small.forwards == 7  # 21 rows, 3 per forward
    np.testing.assert_allclose(small.deleted, occ.deleted, atol=1e-6)
    np.testing.assert_allclose(small.unk, occ.unk, atol=1e-6)


def test_occlusion_rows_are_the_text_its_deletions_and_its_unk_replacements() -> None:
    rows, lengths = occlusion_inputs([5, 6, 7])
    assert rows.tolist() == [[5, 6, 7], [6, 7, PAD_ID], [5, 7, PAD_ID], [5, 6, PAD_ID],
                             [UNK_ID, 6, 7], [5, UNK_ID, 7], [5, 6, UNK_ID]]
    assert lengths.tolist() == [3, 2, 2, 2, 3, 3, 3]
    rows, lengths = occlusion_inputs([5])  # nothing is left after deleting the only token
    assert rows.tolist() == [[5], [UNK_ID]] and lengths.tolist() == [1, 1]
    with pytest.raises(RnnVizError, match="no tokens"):
        occlusion_inputs([])


def test_a_one_token_text_compares_with_the_unk_replacement() -> None:
    predictor = _predictor("bilstm_max_bigram")
    occ = occlusion(predictor, "股")
    assert np.isnan(occ.deleted).all() and occ.deleted_label.tolist() == [-1]
    assert occ.unk[0] == pytest.approx(_p_k(predictor, [UNK_ID], occ.label_index)[0], abs=1e-6)
    c = compare(predictor, "股")
    assert c.occlusion_mode == "unk" and c.occlusion_scaled.tolist() in ([1.0], [-1.0], [0.0])


def test_connectivity_equals_autograd_on_the_embedded_input(predictor: Predictor) -> None:
    g = gradients(predictor, TEXT)
    model = predictor.model
    ids = torch.tensor([_ids(predictor, TEXT)])
    lengths = torch.tensor([ids.shape[1]])
    emb = model.embed(ids).detach()
    jac = torch.autograd.functional.jacobian(lambda e: model.classify(e, lengths)[0], emb)
    k = g.label_index
    assert k == int(model(ids, lengths)[0].argmax())
    np.testing.assert_allclose(g.connectivity, jac[k, 0].norm(dim=-1).numpy(), rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(g.grad_x_input, (jac[k, 0] * emb[0]).sum(-1).numpy(), rtol=1e-5,
                               atol=1e-7)
    # Gradient x input is the predictor's importance, before its rescaling.
    np.testing.assert_allclose(scaled(g.grad_x_input), predictor.predict(TEXT).importance,
                               atol=1e-5)


def test_connectivity_equals_finite_differences_in_float64() -> None:
    predictor = _predictor("gru_last", dtype=torch.float64)
    g = gradients(predictor, TEXT)
    model = predictor.model
    ids = torch.tensor([_ids(predictor, TEXT)])
    lengths = torch.tensor([ids.shape[1]])
    emb = model.embed(ids).detach()
    eps = 1e-6
    fd = torch.zeros_like(emb[0])
    with torch.no_grad():
        for s in range(emb.shape[1]):
            for e in range(emb.shape[2]):
                up, down = emb.clone(), emb.clone()
                up[0, s, e] += eps
                down[0, s, e] -= eps
                fd[s, e] = (model.classify(up, lengths)[0, g.label_index]
                            - model.classify(down, lengths)[0, g.label_index]) / (2 * eps)
    np.testing.assert_allclose(g.connectivity, fd.norm(dim=-1).numpy(), rtol=1e-5)
    # A last-step unidirectional GRU: the last token's vector matters, the first's less.
    assert g.connectivity[-1] > g.connectivity[0]
    assert 0 <= g.first_half_share <= 1


def test_pool_winners_are_the_positions_the_model_pools() -> None:
    for name in ("bilstm_max_bigram", "rcnn_gru"):
        predictor = _predictor(name)
        model = predictor.model
        ids = _ids(predictor, TEXT)
        pool = pool_winners(predictor, ids)
        assert pool is not None
        x, lengths = torch.tensor([ids]), torch.tensor([len(ids)])
        with torch.no_grad():
            emb = model.embed(x)
            if name == "rcnn_gru":
                pooled = model.token_features(emb, lengths).max(1).values[0]
            else:
                pooled = model.pooled(emb, lengths)[0]
        cols = np.arange(pool.values.shape[1])
        np.testing.assert_allclose(pool.values[pool.winner, cols], pooled.numpy(), atol=1e-6)
        assert (pool.gap >= 0).all() and (pool.runner_up != pool.winner).all()
        assert sum(pool.wins(t) for t in range(len(ids))) == pool.values.shape[1]
    assert pool_winners(_predictor("gru_last"), [2, 3]) is None  # last-step pooling
    assert pool_winners(_predictor("rnn_mean"), [2, 3]) is None


def test_close_wins_count_runner_ups_within_the_tie() -> None:
    values = np.array([[1.0, 0.5, 0.0], [0.99, 0.1, 0.2], [0.0, 0.0, 0.9]])
    winner, runner = np.array([0, 0, 2]), np.array([1, 1, 1])
    gap = np.array([0.01, 0.4, 0.7])
    pool = PoolWinners(values, winner, runner, gap)
    assert pool.wins(0) == 2 and pool.close_wins(0) == 1 and pool.close_wins(0, 0.5) == 2
    assert POOL_TIE == 0.05


def test_gate_saturation_counts_the_traced_gates() -> None:
    predictor = _predictor("bilstm_max_bigram")
    pred = predictor.predict(TEXT)
    sat = gate_saturation(pred.layers)
    assert sat is not None and set(sat) == {"i", "f", "o"}
    model = predictor.model
    ids = torch.tensor([_ids(predictor, TEXT)])
    with torch.no_grad():
        trace = trace_module(model.rnn, model.embed(ids))
    layer0 = [t for t in trace.layers if t.layer == 0]
    for gate, share in sat.items():
        s = torch.cat([t.states[gate][0] for t in layer0], dim=1)  # (T, 2H)
        expected = ((s < 0.05) | (s > 0.95)).double().mean(1).numpy()
        np.testing.assert_allclose(share, expected, atol=1e-6)
    assert set(gate_saturation(_predictor("gru_last").predict(TEXT).layers)) == {"r", "z"}
    assert gate_saturation(_predictor("rnn_mean").predict(TEXT).layers) is None
    assert gate_saturation([]) is None


def test_next_bigram_known_reads_the_model_s_bigram_table() -> None:
    predictor = _predictor("bilstm_max_bigram")
    ids = _ids(predictor, TEXT)
    keys = set(predictor.model.bigram_keys.tolist())
    V = predictor.config.vocab_size
    expected = [t + 1 < len(ids) and ids[t] * V + ids[t + 1] in keys for t in range(len(ids))]
    assert next_bigram_known(predictor, ids).tolist() == expected
    assert next_bigram_known(_predictor("gru_last"), ids) is None


def test_disagreements_follow_the_stated_rules() -> None:
    tokens = list("abcdef")
    g = np.array([1.0, -0.5, 0.05, 0.3, 0.0, 0.15])
    o = np.array([0.1, 0.6, 0.0, 0.3, 0.15, -0.05])
    found = {d.position: d for d in find_disagreements(g, o, tokens)}
    # a: ranks 0 vs 3 (T=6: 2 apart is far); b: opposite signs; d: same; e, f: too small.
    assert set(found) == {0, 1}
    assert found[1].sign_differs and not found[0].sign_differs
    assert found[0].rank_gap == 3
    assert [d.position for d in find_disagreements(g, o, tokens)] == [0, 1]  # strongest first
    # The evidence decides the reason.
    pool = PoolWinners(np.zeros((6, 4)), np.array([0, 0, 0, 1]), np.array([1, 1, 2, 0]),
                       np.array([0.01, 0.02, 0.5, 0.3]))
    sat = {"i": np.array([0.1, 0.9, 0, 0, 0, 0]), "f": np.array([0.1, 0.7, 0, 0, 0, 0])}
    nxt = np.array([False, False, False, False, False, False])
    found = {d.position: d for d in find_disagreements(g, o, tokens, pool, sat, nxt)}
    assert found[0].reason == "maxpool_tie"  # gradient > effect; 2 of its 3 wins are close
    assert (found[0].pool_wins, found[0].pool_close, found[0].pool_dims) == (3, 2, 4)
    assert found[1].reason == "saturated"  # effect > gradient; 80 % of gates saturated
    assert found[1].saturation == pytest.approx(0.8)
    nxt[1] = True
    assert find_disagreements(g, o, tokens, pool, sat, nxt)[1].reason == "bigram"
    assert find_disagreements(g, o, tokens)[1].reason == "nonlinear"


def test_compare_puts_both_on_one_scale(predictor: Predictor) -> None:
    c = compare(predictor, TEXT, predictor.predict(TEXT).layers)
    assert c.occlusion_mode == "delete"
    assert np.abs(c.gradient_scaled).max() == pytest.approx(1.0)
    assert np.abs(c.occlusion_scaled).max() == pytest.approx(1.0)
    drop = c.occlusion.base_logit - c.occlusion.deleted_logit
    np.testing.assert_allclose(c.occlusion_scaled, drop / np.abs(drop).max(), atol=1e-6)
    assert not c.all_unknown


def test_bad_input_gets_a_clear_message() -> None:
    predictor = _predictor("bilstm_max_bigram")
    for f in (gradients, occlusion, compare):
        with pytest.raises(RnnVizError, match="empty after normalisation"):
            f(predictor, " \u200b ")
    with pytest.raises(RnnVizError, match="at most 64 tokens; this text has 65"):
        occlusion(predictor, "股" * 65)
    # A title of unknown characters only: read as <UNK> throughout, and said so.
    assert compare(predictor, "龘靐").all_unknown and all_unknown([UNK_ID, UNK_ID])
    assert not all_unknown([]) and not all_unknown([UNK_ID, 5])
