"""The hand-written cells against torch's nn.RNNCell / LSTMCell / GRUCell and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rnnviz.core.cells import (
    GATE_LABELS,
    GATES,
    KINDS,
    gate_label,
    gru_step,
    lstm_step,
    param_count,
    rnn_step,
)
from rnnviz.errors import RnnVizError

B, I, H = 3, 5, 4  # noqa: E741 (I is the math's name)
TOL = {"atol": 1e-6, "rtol": 1e-6}


def _weights(cell: nn.Module) -> tuple[torch.Tensor, ...]:
    return cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_rnn_step_matches_rnn_cell(activation: str) -> None:
    cell = nn.RNNCell(I, H, nonlinearity=activation)
    x_t, h_prev = torch.randn(B, I), torch.randn(B, H)
    with torch.no_grad():
        expected = cell(x_t, h_prev)
        got = rnn_step(x_t, h_prev, *_weights(cell), activation=activation)
    torch.testing.assert_close(got["h"], expected, **TOL)
    assert set(got) == set(GATES["rnn"])


def test_rnn_step_sigmoid_matches_closed_form() -> None:
    W_ih, W_hh = torch.randn(H, I), torch.randn(H, H)
    b_ih, b_hh = torch.randn(H), torch.randn(H)
    x_t, h_prev = torch.randn(B, I), torch.randn(B, H)
    got = rnn_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, activation="sigmoid")
    # a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh, one column vector per batch row, in float64.
    a = _np(W_ih) @ _np(x_t).T + _np(b_ih)[:, None] + _np(W_hh) @ _np(h_prev).T + _np(b_hh)[:, None]
    np.testing.assert_allclose(_np(got["a"]), a.T, atol=1e-5)
    np.testing.assert_allclose(_np(got["h"]), _sigmoid(a.T), atol=1e-6)


def test_lstm_step_matches_lstm_cell_and_gate_equations() -> None:
    cell = nn.LSTMCell(I, H)
    x_t, h_prev, c_prev = torch.randn(B, I), torch.randn(B, H), torch.randn(B, H)
    with torch.no_grad():
        h_ref, c_ref = cell(x_t, (h_prev, c_prev))
        got = lstm_step(x_t, h_prev, c_prev, *_weights(cell))
    torch.testing.assert_close(got["h"], h_ref, **TOL)
    torch.testing.assert_close(got["c"], c_ref, **TOL)
    assert tuple(got) == GATES["lstm"]

    # Each gate from its own rows of the stacked weights (torch order i, f, g, o), in float64.
    W_ih, W_hh, b_ih, b_hh = (_np(w) for w in _weights(cell))
    x, h = _np(x_t), _np(h_prev)

    def pre(k: int) -> np.ndarray:
        rows = slice(k * H, (k + 1) * H)
        return x @ W_ih[rows].T + b_ih[rows] + h @ W_hh[rows].T + b_hh[rows]

    expected = {"i": _sigmoid(pre(0)), "f": _sigmoid(pre(1)), "g": np.tanh(pre(2))}
    expected["o"] = _sigmoid(pre(3))
    for name, value in expected.items():
        np.testing.assert_allclose(_np(got[name]), value, atol=1e-6, err_msg=name)
    c = expected["f"] * _np(c_prev) + expected["i"] * expected["g"]
    np.testing.assert_allclose(_np(got["c"]), c, atol=1e-6)
    np.testing.assert_allclose(_np(got["h"]), expected["o"] * np.tanh(c), atol=1e-6)


def test_gru_step_matches_gru_cell_and_gate_equations() -> None:
    cell = nn.GRUCell(I, H)
    x_t, h_prev = torch.randn(B, I), torch.randn(B, H)
    with torch.no_grad():
        h_ref = cell(x_t, h_prev)
        got = gru_step(x_t, h_prev, *_weights(cell))
    torch.testing.assert_close(got["h"], h_ref, **TOL)
    assert tuple(got) == GATES["gru"]

    W_ih, W_hh, b_ih, b_hh = (_np(w) for w in _weights(cell))
    x, h = _np(x_t), _np(h_prev)

    def part(k: int) -> tuple[np.ndarray, np.ndarray]:
        rows = slice(k * H, (k + 1) * H)
        return x @ W_ih[rows].T + b_ih[rows], h @ W_hh[rows].T + b_hh[rows]

    r = _sigmoid(sum(part(0)))
    z = _sigmoid(sum(part(1)))
    ih_n, hh_n = part(2)
    n = np.tanh(ih_n + r * hh_n)  # r scales only the hidden share
    for name, value in {"r": r, "z": z, "n": n, "h": (1 - z) * n + z * h}.items():
        np.testing.assert_allclose(_np(got[name]), value, atol=1e-6, err_msg=name)


def test_steps_accept_a_precomputed_input_projection() -> None:
    x_t, h_prev, c_prev = torch.randn(B, I), torch.randn(B, H), torch.randn(B, H)
    for kind, G in (("rnn", 1), ("lstm", 4), ("gru", 3)):
        W_ih, W_hh = torch.randn(G * H, I), torch.randn(G * H, H)
        b_ih, b_hh = torch.randn(G * H), torch.randn(G * H)
        x_proj = x_t @ W_ih.T + b_ih
        if kind == "lstm":
            full = lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh)
            short = lstm_step(None, h_prev, c_prev, None, W_hh, None, b_hh, x_proj=x_proj)
        else:
            step = rnn_step if kind == "rnn" else gru_step
            full = step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh)
            short = step(None, h_prev, None, W_hh, None, b_hh, x_proj=x_proj)
        for name in GATES[kind]:
            torch.testing.assert_close(short[name], full[name], **TOL)


def test_steps_run_two_directions_stacked_on_a_leading_axis() -> None:
    # The trace runs forward and backward weights as one (D, ...) batch: same as one at a time.
    W_ih, W_hh = torch.randn(2, 4 * H, I), torch.randn(2, 4 * H, H)
    b_ih, b_hh = torch.randn(2, 1, 4 * H), torch.randn(2, 1, 4 * H)
    x_t, h_prev, c_prev = torch.randn(2, B, I), torch.randn(2, B, H), torch.randn(2, B, H)
    both = lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh)
    for d in range(2):
        one = lstm_step(x_t[d], h_prev[d], c_prev[d], W_ih[d], W_hh[d], b_ih[d, 0], b_hh[d, 0])
        for name in GATES["lstm"]:
            torch.testing.assert_close(both[name][d], one[name], **TOL)


def test_gates_stay_in_their_activation_ranges() -> None:
    # h_{t-1} in (-1, 1) as a tanh cell makes it, so the GRU's blend of n_t and h_{t-1} stays there.
    x_t, h_prev, c_prev = 3 * torch.randn(B, I), torch.rand(B, H) * 2 - 1, 3 * torch.randn(B, H)
    lstm = lstm_step(x_t, h_prev, c_prev, *_weights(nn.LSTMCell(I, H)))
    gru = gru_step(x_t, h_prev, *_weights(nn.GRUCell(I, H)))
    rnn = rnn_step(x_t, h_prev, *_weights(nn.RNNCell(I, H)), activation="sigmoid")
    for sigmoid_gate in (lstm["i"], lstm["f"], lstm["o"], gru["r"], gru["z"], rnn["h"]):
        assert bool(((sigmoid_gate > 0) & (sigmoid_gate < 1)).all())
    for tanh_value in (lstm["g"], lstm["h"], gru["n"], gru["h"]):
        assert bool(((tanh_value > -1) & (tanh_value < 1)).all())
    relu = rnn_step(x_t, h_prev, *_weights(nn.RNNCell(I, H)), activation="relu")
    assert bool((relu["h"] >= 0).all()) and bool((relu["h"] == relu["a"].clamp(min=0)).all())


@pytest.mark.parametrize("kind,module", [("rnn", nn.RNN), ("lstm", nn.LSTM), ("gru", nn.GRU)])
@pytest.mark.parametrize("input_size,hidden_size", [(1, 1), (5, 4), (128, 256)])
def test_param_count_matches_torch_modules(
    kind: str, module: type[nn.Module], input_size: int, hidden_size: int
) -> None:
    one = module(input_size, hidden_size)
    assert param_count(kind, input_size, hidden_size) == sum(p.numel() for p in one.parameters())
    bi = module(input_size, hidden_size, bidirectional=True)
    assert 2 * param_count(kind, input_size, hidden_size) == sum(p.numel() for p in bi.parameters())


def test_param_count_rejects_unknown_kind_and_bad_sizes() -> None:
    with pytest.raises(RnnVizError, match="unknown cell kind 'transformer'"):
        param_count("transformer", 4, 4)
    with pytest.raises(RnnVizError, match="hidden_size=0"):
        param_count("lstm", 4, 0)


def test_unknown_activation_raises_rnnviz_error() -> None:
    W = torch.randn(H, H)
    with pytest.raises(RnnVizError, match="unknown activation 'gelu'.*tanh, relu, sigmoid"):
        rnn_step(torch.randn(B, H), torch.randn(B, H), W, W, torch.zeros(H), torch.zeros(H), "gelu")


def test_gate_labels_cover_every_gate_in_both_languages() -> None:
    assert set(GATES) == set(KINDS) == set(GATE_LABELS)
    for kind, gates in GATES.items():
        assert tuple(GATE_LABELS[kind]) == gates
        for gate in gates:
            zh, en = gate_label(kind, gate, "zh"), gate_label(kind, gate, "en")
            assert zh != en and f"{gate}_t" in zh and f"{gate}_t" in en
    assert gate_label("lstm", "f") == "遗忘门 f_t"
    assert gate_label("lstm", "f", lang="en") == "forget gate f_t"
    with pytest.raises(RnnVizError, match="unknown gate 'q'"):
        gate_label("gru", "q")
