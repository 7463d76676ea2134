"""Backpropagation through time, written out by hand, and checked against autograd.

Course notation (one sequence, h_0 = 0, y_t a class index):
    a_t = U x_t + W h_{t-1} + b,   h_t = f(a_t),   o_t = V h_t + c,   ŷ_t = softmax(o_t)
    L = Σ_t L_t,   L_t = -log ŷ_t[y_t]
BPTT runs the recursion δ_t = ∂L/∂a_t backwards from t = T to 1; ∂L/∂V needs only the
present step, ∂L/∂W and ∂L/∂U sum δ_t over the whole history. The derivation follows
Goodfellow et al., *Deep Learning*, section 10.2.2 (same symbols: a, h, o, U, W, V, b, c) and
d2l.ai section 9.7; its words and formulas are in content/<lang>/lessons/bptt.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.content import Text
from rnnviz.core.cells import NN_MODULES, lstm_step
from rnnviz.core.config import CELLS
from rnnviz.errors import RnnVizError
from rnnviz.lessons.gradients import activation_derivative
from rnnviz.lessons.unrolled import activate, check_activation

PARAM_NAMES = ("U", "W", "V", "b", "c")
CELL_KINDS = CELLS


@dataclass(frozen=True)
class RNNParams:
    """U (H, D), W (H, H), b (H,), V (K, H), c (K,), all float64."""

    U: np.ndarray
    W: np.ndarray
    b: np.ndarray
    V: np.ndarray
    c: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in PARAM_NAMES}


def random_params(
    input_size: int = 3, hidden_size: int = 5, output_size: int = 4, seed: int = 0
) -> RNNParams:
    """Seeded weights, uniform +-1/sqrt(H) like torch's default init."""
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(hidden_size)
    u = lambda *shape: rng.uniform(-k, k, size=shape)  # noqa: E731
    return RNNParams(
        U=u(hidden_size, input_size),
        W=u(hidden_size, hidden_size),
        b=u(hidden_size),
        V=u(output_size, hidden_size),
        c=u(output_size),
    )


def random_sequence(
    T: int, input_size: int = 3, output_size: int = 4, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs x (T, D) ~ N(0, 1) and a target class y_t at every step, (T,) ints."""
    if T < 1:
        raise RnnVizError(f"sequence length must be >= 1, got {T}", where="T")
    rng = np.random.default_rng(seed + 1)
    return rng.normal(size=(T, input_size)), rng.integers(0, output_size, size=T)


@dataclass(frozen=True)
class ForwardPass:
    a: np.ndarray  # (T, H)
    h: np.ndarray  # (T + 1, H), h[0] = h_0 = 0 so h[t] is h_t
    y_hat: np.ndarray  # (T, K) softmax(o_t)
    loss: float


def _softmax(o: np.ndarray) -> np.ndarray:
    e = np.exp(o - o.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def forward(p: RNNParams, x: np.ndarray, y: np.ndarray, activation: str = "tanh") -> ForwardPass:
    check_activation(activation)
    T, H = x.shape[0], p.W.shape[0]
    a = np.zeros((T, H))
    h = np.zeros((T + 1, H))
    for t in range(1, T + 1):
        a[t - 1] = p.U @ x[t - 1] + p.W @ h[t - 1] + p.b
        h[t] = activate(a[t - 1], activation)
    y_hat = _softmax(h[1:] @ p.V.T + p.c)
    loss = float(-np.log(y_hat[np.arange(T), y]).sum())
    return ForwardPass(a=a, h=h, y_hat=y_hat, loss=loss)


def _check_truncate(truncate: int | None) -> None:
    if truncate is not None and truncate < 1:
        raise RnnVizError(f"truncation window must be >= 1, got {truncate}", where="k")


def _cut_before(t: int, truncate: int | None) -> bool:
    """True when step t starts a new window: h_{t-1} is detached, no gradient flows to it."""
    return truncate is not None and t > 1 and (t - 1) % truncate == 0


def bptt_gradients(
    p: RNNParams,
    x: np.ndarray,
    y: np.ndarray,
    activation: str = "tanh",
    truncate: int | None = None,
) -> dict[str, np.ndarray]:
    """∂L/∂{U, W, V, b, c} by explicit loops over time, no autograd.

    truncate=k: truncated BPTT, the sequence cut into windows of k steps (1..k, k+1..2k, ...)
    and no gradient carried across a window boundary (as if h were detached there).
    """
    _check_truncate(truncate)
    fw = forward(p, x, y, activation)
    T = x.shape[0]
    grads = {name: np.zeros_like(value) for name, value in p.as_dict().items()}
    delta_next = np.zeros(p.W.shape[0])  # δ_{T+1} = 0: nothing after the last step
    for t in range(T, 0, -1):
        # Output layer: ∂L_t/∂o_t = ŷ_t - y_t (softmax + cross-entropy), uses only step t.
        d_o = fw.y_hat[t - 1].copy()
        d_o[y[t - 1]] -= 1.0
        grads["V"] += np.outer(d_o, fw.h[t])
        grads["c"] += d_o
        # ∂L/∂h_t: from this step's output and, through W, from all later steps.
        d_h = p.V.T @ d_o
        if not _cut_before(t + 1, truncate):
            d_h += p.W.T @ delta_next
        delta = activation_derivative(fw.a[t - 1], activation) * d_h  # δ_t = f'(a_t) ⊙ ∂L/∂h_t
        grads["W"] += np.outer(delta, fw.h[t - 1])
        grads["U"] += np.outer(delta, x[t - 1])
        grads["b"] += delta
        delta_next = delta
    return grads


def autograd_gradients(
    p: RNNParams, x: np.ndarray, y: np.ndarray, activation: str = "tanh"
) -> dict[str, np.ndarray]:
    """The same gradients from torch autograd (float64): the reference the page compares to."""
    check_activation(activation)
    f = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[activation]
    P = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True)
         for n, v in p.as_dict().items()}
    xs = torch.as_tensor(x, dtype=torch.float64)
    h = torch.zeros(p.W.shape[0], dtype=torch.float64)
    outs = []
    for x_t in xs:
        h = f(P["U"] @ x_t + P["W"] @ h + P["b"])
        outs.append(P["V"] @ h + P["c"])
    loss = torch.nn.functional.cross_entropy(
        torch.stack(outs), torch.as_tensor(y, dtype=torch.long), reduction="sum"
    )
    loss.backward()
    return {n: t.grad.numpy() for n, t in P.items()}


@dataclass(frozen=True)
class GradientCheck:
    name: str
    shape: tuple[int, ...]
    max_abs_diff: float  # max |hand - autograd|
    max_abs_grad: float  # max |autograd|, for scale


def compare_with_autograd(
    p: RNNParams, x: np.ndarray, y: np.ndarray, activation: str = "tanh"
) -> list[GradientCheck]:
    """One row per parameter: the hand-written BPTT against autograd."""
    hand = bptt_gradients(p, x, y, activation)
    auto = autograd_gradients(p, x, y, activation)
    return [
        GradientCheck(
            name=n,
            shape=tuple(hand[n].shape),
            max_abs_diff=float(np.max(np.abs(hand[n] - auto[n]))),
            max_abs_grad=float(np.max(np.abs(auto[n]))),
        )
        for n in PARAM_NAMES
    ]


def hidden_contributions(
    p: RNNParams,
    x: np.ndarray,
    y: np.ndarray,
    activation: str = "tanh",
    truncate: int | None = None,
) -> np.ndarray:
    """‖∂L_t/∂h_s‖ for every loss step t (rows) and hidden step s (columns), (T, T).

    How far back each loss term reaches. Zero above the diagonal (the future does not
    affect the past) and, with truncate=k, zero wherever s lies in an earlier window than t.
    """
    _check_truncate(truncate)
    fw = forward(p, x, y, activation)
    T = x.shape[0]
    out = np.zeros((T, T))
    for t in range(1, T + 1):
        d_o = fw.y_hat[t - 1].copy()
        d_o[y[t - 1]] -= 1.0
        d_h = p.V.T @ d_o  # ∂L_t/∂h_t
        for s in range(t, 0, -1):
            out[t - 1, s - 1] = np.linalg.norm(d_h)
            if s == 1 or _cut_before(s, truncate):
                break
            d_h = p.W.T @ (activation_derivative(fw.a[s - 1], activation) * d_h)  # -> ∂L_t/∂h_{s-1}
    return out


def relative_change(full: dict[str, np.ndarray], other: dict[str, np.ndarray], name: str) -> float:
    """‖other - full‖ / ‖full‖ for one parameter: how much truncation changed its gradient."""
    denom = np.linalg.norm(full[name])
    return float(np.linalg.norm(other[name] - full[name]) / denom) if denom > 0 else 0.0


# --- gradient per time step in torch.nn RNN / LSTM / GRU --------------------------------------


def _make_module(kind: str, input_size: int, hidden_size: int, gate_bias: float) -> torch.nn.Module:
    if kind not in CELL_KINDS:
        raise RnnVizError(f"unknown cell kind {kind!r}; choose one of {', '.join(CELL_KINDS)}")
    cls = NN_MODULES[kind]
    # float64: the gradients reach 1e-60 over 200 steps, far below float32's smallest number.
    module = cls(input_size, hidden_size, dtype=torch.float64)
    if kind != "rnn" and gate_bias:
        # Rows H..2H of the stacked bias: LSTM (i, f, g, o) -> forget gate f; GRU (r, z, n) ->
        # update gate z. A positive bias opens the path that carries c_{t-1} (LSTM) or h_{t-1}
        # (GRU) through unchanged, the usual forget-bias init of Jozefowicz et al. (2015).
        with torch.no_grad():
            module.bias_ih_l0[hidden_size : 2 * hidden_size] += gate_bias
    return module


def _reach_setup(
    kind: str, T: int, hidden_size: int, input_size: int, gate_bias: float, seed: int
) -> tuple[torch.nn.Module, torch.nn.Linear, torch.Tensor]:
    """The seeded module, its linear read-out and the inputs x (T, 1, input_size)."""
    if T < 1:
        raise RnnVizError(f"sequence length must be >= 1, got {T}", where="T")
    torch.manual_seed(seed)
    module = _make_module(kind, input_size, hidden_size, gate_bias)
    head = torch.nn.Linear(hidden_size, 2, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed + 1)
    return module, head, torch.randn(T, 1, input_size, generator=g, dtype=torch.float64)


def hidden_gradient_norms(
    kind: str,
    T: int,
    hidden_size: int = 32,
    input_size: int = 8,
    gate_bias: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """‖∂L/∂h_t‖ for t = 1..T when the loss sees only the last step, shape (T,).

    A torch.nn module (default init, seeded; ``gate_bias`` added to the LSTM forget gate or
    the GRU update gate) is stepped one time step at a time so every h_t is a tensor of its
    own whose gradient autograd keeps; the loss is cross-entropy of a linear read-out of h_T.
    For the LSTM, c_t is a separate path: ∂L/∂h_t holds c_t fixed.
    """
    module, head, x = _reach_setup(kind, T, hidden_size, input_size, gate_bias, seed)
    zeros = torch.zeros(1, 1, hidden_size, dtype=torch.float64)
    state = (zeros, zeros) if kind == "lstm" else zeros
    hs = []
    for t in range(T):
        _, state = module(x[t : t + 1], state)
        h_t = state[0] if kind == "lstm" else state
        h_t.retain_grad()
        hs.append(h_t)
    loss = torch.nn.functional.cross_entropy(head(hs[-1][0]), torch.tensor([0]))
    loss.backward()
    return np.array([float(h.grad.norm()) for h in hs])


def cell_gradient_norms(
    T: int,
    hidden_size: int = 32,
    input_size: int = 8,
    gate_bias: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """‖∂L/∂c_t‖ for t = 1..T in the LSTM of ``hidden_gradient_norms("lstm", ...)``, shape (T,).

    The cell state's gradient along every path from c_t to the loss:
        ∂L/∂c_t = f_{t+1} ⊙ ∂L/∂c_{t+1} + o_t ⊙ tanh'(c_t) ⊙ ∂L/∂h_t
    (through c_{t+1} = f_{t+1} ⊙ c_t + i_{t+1} ⊙ g_{t+1}, and through h_t = o_t ⊙ tanh(c_t)).
    Along the cell path each step back multiplies by f_{t+1} alone, with no W and no squashing
    derivative: the constant error carousel (Hochreiter & Schmidhuber 1997; forget gate: Gers,
    Schmidhuber & Cummins 2000). nn.LSTM hands back h_t and c_t as separate outputs, so a
    gradient kept on its c_t would miss the path through h_t; the module's own weights are
    therefore stepped with ``lstm_step``, where h_t is computed from the c_t tensor.
    """
    module, head, x = _reach_setup("lstm", T, hidden_size, input_size, gate_bias, seed)
    h = torch.zeros(1, hidden_size, dtype=torch.float64)
    c = h
    cs = []
    for t in range(T):
        step = lstm_step(x[t], h, c, module.weight_ih_l0, module.weight_hh_l0,
                         module.bias_ih_l0, module.bias_hh_l0)
        h, c = step["h"], step["c"]
        c.retain_grad()
        cs.append(c)
    torch.nn.functional.cross_entropy(head(h), torch.tensor([0])).backward()
    return np.array([float(c.grad.norm()) for c in cs])


# --- truncation ------------------------------------------------------------------------------


def truncation_windows(T: int, k: int) -> list[int]:
    """The lengths of the windows truncated BPTT cuts T steps into: k, k, ..., the rest."""
    if T < 1:
        raise RnnVizError(f"sequence length must be >= 1, got {T}", where="T")
    _check_truncate(k)
    return [min(k, T - start) for start in range(0, T, k)]


# --- the derivation, step by step -------------------------------------------------------------

# Goodfellow et al. 10.2.2 (eqs. 10.17-10.28) derive the same gradients for this very RNN;
# the product's order is J_t J_{t-1} ... J_{k+1}, as jacobian_product in gradients.py builds it.
DERIVATION = ("forward", "output", "V", "h", "W", "unroll")
_T = Text("lessons/bptt")


def derivation_steps(lang: str = "zh") -> list[tuple[str, str]]:
    """(explanation, LaTeX) pairs of the BPTT derivation, in order."""
    return [(_T(lang, f"derivation.{step}"), _T(lang, f"derivation.{step}.tex"))
            for step in DERIVATION]
