"""Hand-written BPTT against torch.nn modules and autograd; truncation against detach-every-k."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnviz.errors import RnnVizError
from rnnviz.lessons.bptt import (
    PARAM_NAMES,
    RNNParams,
    bptt_gradients,
    cell_gradient_norms,
    compare_with_autograd,
    derivation_steps,
    forward,
    hidden_contributions,
    hidden_gradient_norms,
    random_params,
    random_sequence,
    relative_change,
    truncation_windows,
)
from rnnviz.lessons.gradients import jacobian_setup, step_jacobians

T = 12


def _problem(seed: int = 0) -> tuple[RNNParams, np.ndarray, np.ndarray]:
    p = random_params(input_size=3, hidden_size=5, output_size=4, seed=seed)
    x, y = random_sequence(T, input_size=3, output_size=4, seed=seed)
    return p, x, y


def _torch_module_grads(p: RNNParams, x, y, activation: str) -> tuple[float, dict[str, np.ndarray]]:
    """Reference: nn.RNN + nn.Linear in float64, cross-entropy summed over steps, autograd."""
    H, D = p.U.shape
    rnn = torch.nn.RNN(D, H, nonlinearity=activation, dtype=torch.float64)
    head = torch.nn.Linear(H, p.V.shape[0], dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(p.U))
        rnn.weight_hh_l0.copy_(torch.from_numpy(p.W))
        rnn.bias_ih_l0.copy_(torch.from_numpy(p.b))
        rnn.bias_hh_l0.zero_()
        head.weight.copy_(torch.from_numpy(p.V))
        head.bias.copy_(torch.from_numpy(p.c))
    out, _ = rnn(torch.from_numpy(x)[:, None, :])
    loss = torch.nn.functional.cross_entropy(head(out[:, 0]), torch.from_numpy(y), reduction="sum")
    loss.backward()
    grads = {
        "U": rnn.weight_ih_l0.grad,
        "W": rnn.weight_hh_l0.grad,
        "b": rnn.bias_ih_l0.grad,
        "V": head.weight.grad,
        "c": head.bias.grad,
    }
    return loss.item(), {n: g.numpy() for n, g in grads.items()}


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_hand_bptt_matches_torch_rnn_module(activation: str) -> None:
    p, x, y = _problem(seed=1)
    loss, expected = _torch_module_grads(p, x, y, activation)
    assert forward(p, x, y, activation).loss == pytest.approx(loss, rel=1e-12)
    got = bptt_gradients(p, x, y, activation)
    for name in PARAM_NAMES:
        np.testing.assert_allclose(got[name], expected[name], atol=1e-10, rtol=0)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_page_check_table_agrees_within_1e_10(activation: str) -> None:
    p, x, y = _problem()
    rows = compare_with_autograd(p, x, y, activation)
    assert [r.name for r in rows] == list(PARAM_NAMES)
    assert [r.shape for r in rows] == [(5, 3), (5, 5), (4, 5), (5,), (4,)]
    for r in rows:
        assert r.max_abs_diff < 1e-10
        assert r.max_abs_grad > 1e-3  # a real gradient, not zeros agreeing with zeros


def _untied_step_grads(p: RNNParams, x, y) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]]]:
    """∂L_t/∂W_s and ∂L_t/∂h_s with a separate copy W_s of W at each step s (same values).

    Gives every (loss step t, time step s) contribution on its own; summing all of them is
    the full BPTT gradient of W.
    """
    W_s = [torch.tensor(p.W, requires_grad=True) for _ in range(len(x))]
    U, b, V, c = (torch.from_numpy(m) for m in (p.U, p.b, p.V, p.c))
    h = torch.zeros(p.W.shape[0], dtype=torch.float64)
    hs, losses = [], []
    for s, x_s in enumerate(torch.from_numpy(x)):
        h = torch.tanh(U @ x_s + W_s[s] @ h + b)
        hs.append(h)
        o = V @ h + c
        losses.append(-torch.log_softmax(o, dim=0)[int(y[s])])
    dW, dh = [], []
    for t, L_t in enumerate(losses):
        grads = torch.autograd.grad(L_t, W_s + hs, allow_unused=True, retain_graph=True)
        zero = lambda m: np.zeros_like(m)  # noqa: E731
        dW.append([zero(p.W) if g is None else g.numpy() for g in grads[: len(x)]])
        dh.append([np.zeros(p.W.shape[0]) if g is None else g.numpy() for g in grads[len(x) :]])
        assert all(g is None or not g.any() for g in grads[t + 1 : len(x)])  # no future
    return dW, dh


def _same_window(t: int, s: int, k: int) -> bool:
    return t // k == s // k  # 0-based steps, windows 0..k-1, k..2k-1, ...


@pytest.mark.parametrize("k", [1, 3, 5, T])
def test_truncated_gradient_is_full_minus_cut_contributions(k: int) -> None:
    p, x, y = _problem()
    dW, _ = _untied_step_grads(p, x, y)
    full = sum(dW[t][s] for t in range(T) for s in range(T))
    kept = sum(dW[t][s] for t in range(T) for s in range(T) if _same_window(t, s, k))
    np.testing.assert_allclose(bptt_gradients(p, x, y)["W"], full, atol=1e-12)
    np.testing.assert_allclose(bptt_gradients(p, x, y, truncate=k)["W"], kept, atol=1e-12)


@pytest.mark.parametrize("k", [2, 4, 5])
def test_truncated_bptt_equals_detach_every_k(k: int) -> None:
    p, x, y = _problem(seed=2)
    P = {n: torch.tensor(v, requires_grad=True) for n, v in p.as_dict().items()}
    h = torch.zeros(p.W.shape[0], dtype=torch.float64)
    outs = []
    for t, x_t in enumerate(torch.from_numpy(x)):
        if t > 0 and t % k == 0:
            h = h.detach()  # start a new window: no gradient into the previous one
        h = torch.tanh(P["U"] @ x_t + P["W"] @ h + P["b"])
        outs.append(P["V"] @ h + P["c"])
    loss = torch.nn.functional.cross_entropy(torch.stack(outs), torch.from_numpy(y),
                                             reduction="sum")
    loss.backward()
    got = bptt_gradients(p, x, y, truncate=k)
    for name in PARAM_NAMES:
        np.testing.assert_allclose(got[name], P[name].grad.numpy(), atol=1e-12)
    assert relative_change(bptt_gradients(p, x, y), got, "W") > 1e-3


@pytest.mark.parametrize("k", [None, 4])
def test_hidden_contributions_match_autograd(k: int | None) -> None:
    p, x, y = _problem()
    _, dh = _untied_step_grads(p, x, y)
    got = hidden_contributions(p, x, y, truncate=k)
    for t in range(T):
        for s in range(T):
            cut = s > t or (k is not None and not _same_window(t, s, k))
            expected = 0.0 if cut else np.linalg.norm(dh[t][s])
            assert got[t, s] == pytest.approx(expected, abs=1e-13), (t, s)


def _reference_grad_norms(kind: str, T_: int, H: int, D: int, gate_bias: float, t: int) -> float:
    """‖∂L/∂h_t‖ by re-running the module from a leaf h_t (c_t held fixed for the LSTM)."""
    torch.manual_seed(0)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    m = cls(D, H, dtype=torch.float64)
    if kind != "rnn":
        with torch.no_grad():
            m.bias_ih_l0[H : 2 * H] += gate_bias
    head = torch.nn.Linear(H, 2, dtype=torch.float64)
    x = torch.randn(T_, 1, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    z = torch.zeros(1, 1, H, dtype=torch.float64)
    with torch.no_grad():  # forward to step t in one call of the module
        _, state = m(x[:t], (z, z) if kind == "lstm" else z)
    h_t = (state[0] if kind == "lstm" else state).clone().requires_grad_(True)
    rest = (h_t, state[1]) if kind == "lstm" else h_t
    out, _ = m(x[t:], rest)
    loss = torch.nn.functional.cross_entropy(head(out[-1]), torch.tensor([0]))
    (g,) = torch.autograd.grad(loss, h_t)
    return float(g.norm())


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_hidden_gradient_norms_match_rerun_from_h_t(kind: str) -> None:
    norms = hidden_gradient_norms(kind, 20, hidden_size=6, input_size=3, gate_bias=1.0)
    assert norms.shape == (20,)
    for t in (1, 10, 19):  # 1-based h_t is norms[t - 1]
        ref = _reference_grad_norms(kind, 20, 6, 3, 1.0, t)
        assert norms[t - 1] == pytest.approx(ref, rel=1e-9)


def test_gated_cells_keep_gradient_longer_than_plain_rnn() -> None:
    rnn, lstm, gru = (hidden_gradient_norms(k, 120, gate_bias=1.0) for k in ("rnn", "lstm", "gru"))
    assert rnn[0] < 1e-6 * lstm[0]
    assert rnn[0] < 1e-6 * gru[0]


def test_derivation_has_every_parameter_in_both_languages() -> None:
    zh, en = derivation_steps("zh"), derivation_steps("en")
    assert len(zh) == len(en) >= 5
    tex = " ".join(t for _, t in zh)
    for term in (r"\partial L}{\partial V}", r"\partial L}{\partial W}",
                 r"\partial L}{\partial U}", r"\delta_t"):
        assert term in tex
    assert [t for _, t in zh] == [t for _, t in en]  # one formula, two languages around it
    assert zh[0][0] != en[0][0]
    # The product's order is written out, latest step first (it was an unordered ∏ before).
    assert r"J_t\, J_{t-1} \cdots J_{k+1}" in tex and r"\prod" not in tex


def test_the_stated_product_order_is_the_jacobian_autograd_finds() -> None:
    """∂h_t/∂h_k = J_t J_{t-1} ... J_{k+1}, as the derivation writes it; the reverse order is a
    different matrix (matrices do not commute)."""
    setup = jacobian_setup(T=6, hidden_size=5, spectral_radius=1.3, seed=3)
    J = step_jacobians(setup, "tanh")  # J[j - 1] is J_j
    t, k = 6, 2
    U, W, b = (torch.from_numpy(m) for m in (setup.U, setup.W, setup.b))
    xs = torch.from_numpy(setup.x)
    h = torch.zeros(5, dtype=torch.float64)
    for j in range(1, k + 1):
        h = torch.tanh(U @ xs[j - 1] + W @ h + b)

    def h_t(h_k: torch.Tensor) -> torch.Tensor:
        for j in range(k + 1, t + 1):
            h_k = torch.tanh(U @ xs[j - 1] + W @ h_k + b)
        return h_k

    expected = torch.autograd.functional.jacobian(h_t, h).numpy()
    latest_first = J[5] @ J[4] @ J[3] @ J[2]  # J_6 J_5 J_4 J_3
    np.testing.assert_allclose(latest_first, expected, atol=1e-12)
    assert not np.allclose(J[2] @ J[3] @ J[4] @ J[5], expected, atol=1e-6)


def _hand_lstm_state_grads(T_: int, H: int, D: int, gate_bias: float):
    """(∂L/∂c_t, ∂L/∂h_t, f_t, o_t, c_t) for t = 1..T by an LSTM written here gate by gate on
    the weights of nn.LSTM (same seed as the lesson): a zero leaf added to each c_t and h_t
    receives the gradient of everything downstream of it, every path included."""
    torch.manual_seed(0)
    m = torch.nn.LSTM(D, H, dtype=torch.float64)
    with torch.no_grad():
        m.bias_ih_l0[H : 2 * H] += gate_bias
    head = torch.nn.Linear(H, 2, dtype=torch.float64)
    x = torch.randn(T_, 1, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    h = c = torch.zeros(H, dtype=torch.float64)
    eps_c, eps_h, fs, os_, cs = [], [], [], [], []
    for t in range(T_):
        pre = m.weight_ih_l0 @ x[t, 0] + m.bias_ih_l0 + m.weight_hh_l0 @ h + m.bias_hh_l0
        i, f, g, o = pre.chunk(4)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        e_c = torch.zeros(H, dtype=torch.float64, requires_grad=True)
        e_h = torch.zeros(H, dtype=torch.float64, requires_grad=True)
        c = f * c + i * g + e_c
        h = o * torch.tanh(c) + e_h
        eps_c.append(e_c)
        eps_h.append(e_h)
        fs.append(f.detach().numpy())
        os_.append(o.detach().numpy())
        cs.append(c.detach().numpy())
    loss = torch.nn.functional.cross_entropy(head(h)[None], torch.tensor([0]))
    grads = torch.autograd.grad(loss, eps_c + eps_h)
    dc = np.stack([g.numpy() for g in grads[:T_]])
    dh = np.stack([g.numpy() for g in grads[T_:]])
    return dc, dh, np.stack(fs), np.stack(os_), np.stack(cs)


@pytest.mark.parametrize("gate_bias", [0.0, 2.0])
def test_cell_gradient_norms_match_a_hand_written_lstm(gate_bias: float) -> None:
    T_, H, D = 15, 6, 3
    dc, dh, f, o, c = _hand_lstm_state_grads(T_, H, D, gate_bias)
    got = cell_gradient_norms(T_, hidden_size=H, input_size=D, gate_bias=gate_bias)
    np.testing.assert_allclose(got, np.linalg.norm(dc, axis=1), rtol=1e-9)
    # The solid LSTM line is ∂L/∂h_t of the same network.
    np.testing.assert_allclose(hidden_gradient_norms("lstm", T_, hidden_size=H, input_size=D,
                                                     gate_bias=gate_bias),
                               np.linalg.norm(dh, axis=1), rtol=1e-9)
    # The page's equation: ∂L/∂c_t = f_{t+1} ⊙ ∂L/∂c_{t+1} + o_t ⊙ tanh'(c_t) ⊙ ∂L/∂h_t.
    through_h = o * (1 - np.tanh(c) ** 2) * dh
    np.testing.assert_allclose(dc[:-1], f[1:] * dc[1:] + through_h[:-1], atol=1e-14)
    np.testing.assert_allclose(dc[-1], through_h[-1], atol=1e-14)


def test_an_open_forget_gate_carries_the_cell_gradient_back_unchanged() -> None:
    """The constant error carousel: with f ≈ 1 ‖∂L/∂c_t‖ hardly shrinks over 100 steps, while
    a plain RNN's ‖∂L/∂h_t‖ and a closed gate's ‖∂L/∂c_t‖ vanish."""
    T_ = 100
    open_gate, closed_gate = cell_gradient_norms(T_, gate_bias=5.0), cell_gradient_norms(T_)
    rnn = hidden_gradient_norms("rnn", T_)
    assert open_gate[0] > 0.5 * open_gate[-1]
    assert closed_gate[0] < 1e-15 * closed_gate[-1]
    assert rnn[0] < 1e-20 * rnn[-1]
    assert open_gate[0] > hidden_gradient_norms("lstm", T_, gate_bias=5.0)[0]


@pytest.mark.parametrize("k", [1, 5, 7, T])
def test_truncation_windows_count_the_kept_terms(k: int) -> None:
    sizes = truncation_windows(T, k)
    assert sum(sizes) == T and max(sizes) == k and all(w == k for w in sizes[:-1])
    p, x, y = _problem()
    kept = int((hidden_contributions(p, x, y, truncate=k) > 0).sum())
    assert kept == sum(w * (w + 1) // 2 for w in sizes)
    with pytest.raises(RnnVizError, match="window"):
        truncation_windows(T, 0)


def test_bad_window_is_rejected() -> None:
    p, x, y = _problem()
    with pytest.raises(RnnVizError, match="window"):
        bptt_gradients(p, x, y, truncate=0)
    with pytest.raises(RnnVizError, match="cell kind"):
        hidden_gradient_norms("transformer", 5)
