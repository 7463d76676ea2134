"""Helpers of the LSTM/GRU page, each against an independent reference
(torch modules, autograd, numpy)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from rnnviz.errors import RnnVizError
from rnnviz.lessons.gating import (
    GateView,
    cell_path_gain,
    demo_network,
    demo_tokens,
    gate_summary,
    param_table,
    pick_view,
    torch_param_count,
    trace_text,
    unit_means,
    views_from_prediction,
    views_from_trace,
)

TEXT = "央行宣布下调存款准备金率"


def test_demo_network_is_seeded_and_its_trace_matches_the_module() -> None:
    a, b = demo_network("lstm", seed=5), demo_network("lstm", seed=5)
    for p, q in zip(a.rnn.parameters(), b.rnn.parameters(), strict=True):
        assert torch.equal(p, q)
    assert torch.equal(a.embedding.weight, b.embedding.weight)
    assert not torch.equal(a.rnn.weight_hh_l0, demo_network("lstm", seed=6).rnn.weight_hh_l0)
    tokens, trace = trace_text(a, TEXT)
    assert tokens == list(TEXT)
    _, x = a.encode(TEXT)
    with torch.no_grad():
        out, _ = a.rnn(x)
    view = views_from_trace(trace, tokens)[0]
    np.testing.assert_allclose(view.states["h"], out[0].numpy(), atol=1e-6)
    assert set(view.states) == {"i", "f", "g", "o", "c", "h"}


def test_gate_bias_shifts_only_the_memory_gate_bias() -> None:
    H = 24
    for kind in ("lstm", "gru"):
        plain, biased = demo_network(kind), demo_network(kind, gate_bias=2.0)
        delta = (biased.rnn.bias_ih_l0 - plain.rnn.bias_ih_l0).detach()
        expected = torch.zeros_like(delta)
        expected[H:2 * H] = 2.0  # f (LSTM: i, f, g, o) or z (GRU: r, z, n)
        torch.testing.assert_close(delta, expected)
        assert torch.equal(biased.rnn.weight_hh_l0, plain.rnn.weight_hh_l0)
    # A larger forget bias opens the forget gate: its mean rises.
    _, t0 = trace_text(demo_network("lstm"), TEXT)
    _, t3 = trace_text(demo_network("lstm", gate_bias=3.0), TEXT)
    assert t3.layers[0].states["f"].mean() > t0.layers[0].states["f"].mean() + 0.3


def test_demo_tokens_drop_blanks_cap_length_and_reject_empty_text() -> None:
    assert demo_tokens("a b\tc") == ["a", "b", "c"]
    assert len(demo_tokens("字" * 500)) == 60
    with pytest.raises(RnnVizError, match="text"):
        demo_tokens("   ")


def test_views_from_prediction_read_the_predictor_layout() -> None:
    T, H = 4, 3
    rng = np.random.default_rng(0)
    layer = SimpleNamespace(layer=0, direction="backward", kind="gru",
                            states={g: rng.random((T, H)) for g in ("r", "z", "n", "h")})
    pred = SimpleNamespace(tokens=list("abcd"), layers=[layer])
    view = pick_view(views_from_prediction(pred), 0, "backward")
    assert view.kind == "gru" and view.hidden_size == H and view.tokens == list("abcd")
    np.testing.assert_allclose(view.states["z"], layer.states["z"], rtol=1e-6)
    with pytest.raises(RnnVizError, match="layer"):
        pick_view([view], 1, "forward")
    with pytest.raises(RnnVizError, match="shape"):
        GateView(list("abc"), "gru", 0, "forward", {"h": np.zeros((4, 2))})


def _random_view(T: int = 7, H: int = 5) -> GateView:
    rng = np.random.default_rng(1)
    states = {g: rng.uniform(0, 1, (T, H)) for g in ("i", "f", "o")}
    states.update({g: rng.uniform(-2, 2, (T, H)) for g in ("g", "c", "h")})
    states["f"][0, 0], states["i"][1, 1] = 0.95, 0.05
    return GateView([str(t) for t in range(T)], "lstm", 0, "forward", states)


def test_unit_means_and_gate_summary_match_numpy() -> None:
    view = _random_view()
    means = unit_means(view, ["f", "c"])
    np.testing.assert_allclose(means[0], view.states["f"].mean(axis=1))
    np.testing.assert_allclose(means[1], [row.mean() for row in view.states["c"]])
    rows = {r["gate"]: r for r in gate_summary(view, "en")}
    assert list(rows) == ["i", "f", "g", "o", "c", "h"]
    f = view.states["f"]
    assert rows["f"]["mean"] == round(float(f.mean()), 3)
    assert rows["f"]["max"] == round(float(f.max()), 3)
    assert rows["f"]["nearly open >0.9"] == f"{(f > 0.9).sum() / f.size:.0%}"
    assert rows["i"]["nearly shut <0.1"] == f"{(view.states['i'] < 0.1).sum() / f.size:.0%}"
    assert rows["c"]["nearly open >0.9"] == "—"  # not a gate in (0, 1)


def test_cell_path_gain_equals_autograd_through_the_cell_state() -> None:
    torch.manual_seed(0)
    T, H = 9, 4
    f = torch.rand(T, H, dtype=torch.float64)
    ig = torch.randn(T, H, dtype=torch.float64)  # i_s * g_s, held fixed like f
    gain = cell_path_gain(f.numpy())
    for t in range(T):
        c_t = torch.randn(H, dtype=torch.float64, requires_grad=True)
        c = c_t
        for s in range(t + 1, T):
            c = f[s] * c + ig[s]  # c_s = f_s ⊙ c_{s-1} + i_s ⊙ g_s
        (grad,) = torch.autograd.grad(c.sum(), c_t)  # diagonal Jacobian: the sum reads it
        np.testing.assert_allclose(gain[t], grad.numpy(), rtol=1e-12)
    # Closed form for a constant gate: f^(T-1-t).
    np.testing.assert_allclose(cell_path_gain(np.full((5, 2), 0.5))[:, 0],
                               0.5 ** np.arange(4, -1, -1))


@pytest.mark.parametrize(("I", "H"), [(1, 1), (16, 24), (300, 128)])
def test_param_table_matches_torch_modules(I: int, H: int) -> None:  # noqa: E741
    rows = param_table(I, H, "en")
    counts = {r["cell"]: r["parameters"] for r in rows}
    for kind, module in (("RNN", nn.RNN), ("GRU", nn.GRU), ("LSTM", nn.LSTM)):
        assert counts[kind] == sum(p.numel() for p in module(I, H).parameters())
    assert counts["GRU"] == 3 * counts["RNN"] and counts["LSTM"] == 4 * counts["RNN"]
    assert [r["× RNN"] for r in rows] == ["1×", "3×", "4×"]
    assert all(r["parameters"] == r["torch module numel"] for r in rows)
    assert torch_param_count("lstm", I, H) == counts["LSTM"]
    with pytest.raises(RnnVizError):
        torch_param_count("lstm", 10, 10_000)
