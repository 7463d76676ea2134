"""Backpropagation through time, written out by hand, and checked against autograd.

Course notation (one sequence, h_0 = 0, y_t a class index):
    a_t = U x_t + W h_{t-1} + b,   h_t = f(a_t),   o_t = V h_t + c,   ŷ_t = softmax(o_t)
    L = Σ_t L_t,   L_t = -log ŷ_t[y_t]
BPTT runs the recursion δ_t = ∂L/∂a_t backwards from t = T to 1; ∂L/∂V needs only the
present step, ∂L/∂W and ∂L/∂U sum δ_t over the whole history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.errors import RnnVizError
from rnnviz.i18n import pick
from rnnviz.lessons.gradients import activation_derivative
from rnnviz.lessons.unrolled import activate, check_activation

PARAM_NAMES = ("U", "W", "V", "b", "c")
CELL_KINDS = ("rnn", "lstm", "gru")


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
    P = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in p.as_dict().items()}
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
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    # float64: the gradients reach 1e-60 over 200 steps, far below float32's smallest number.
    module = cls(input_size, hidden_size, dtype=torch.float64)
    if kind != "rnn" and gate_bias:
        # Rows H..2H of the stacked bias: LSTM (i, f, g, o) -> forget gate f; GRU (r, z, n) ->
        # update gate z. A positive bias opens the path that carries c_{t-1} (LSTM) or h_{t-1}
        # (GRU) through unchanged, the usual forget-bias init of Jozefowicz et al. (2015).
        with torch.no_grad():
            module.bias_ih_l0[hidden_size : 2 * hidden_size] += gate_bias
    return module


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
    if T < 1:
        raise RnnVizError(f"sequence length must be >= 1, got {T}", where="T")
    torch.manual_seed(seed)
    module = _make_module(kind, input_size, hidden_size, gate_bias)
    head = torch.nn.Linear(hidden_size, 2, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(T, 1, input_size, generator=g, dtype=torch.float64)
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


# --- the derivation, step by step -------------------------------------------------------------

_DERIVATION = (
    (
        "前向：同一组 $U, W, V, b, c$ 在每一步重复使用。",
        "Forward: the same $U, W, V, b, c$ are used at every step.",
        r"a_t = U x_t + W h_{t-1} + b,\quad h_t = f(a_t),\quad o_t = V h_t + c,\quad"
        r" \hat y_t = \operatorname{softmax}(o_t),\quad L = \sum_{t=1}^{T} L_t = -\sum_{t=1}^{T} y_t^\top \log \hat y_t",
    ),
    (
        "softmax 与交叉熵合在一起，输出层的梯度很简单：",
        "Softmax and cross-entropy together give a simple output gradient:",
        r"\frac{\partial L}{\partial o_t} = \frac{\partial L_t}{\partial o_t} = \hat y_t - y_t",
    ),
    (
        "$V$ 和 $c$ 只出现在 $o_t = V h_t + c$ 中：每一项只用到当前时刻，不需要回溯历史。",
        "$V$ and $c$ appear only in $o_t = V h_t + c$: each term uses the present step only, no history.",
        r"\frac{\partial L}{\partial V} = \sum_{t=1}^{T} (\hat y_t - y_t)\, h_t^\top,\qquad"
        r" \frac{\partial L}{\partial c} = \sum_{t=1}^{T} (\hat y_t - y_t)",
    ),
    (
        "$h_t$ 既影响当前输出 $o_t$，又通过 $W$ 影响 $h_{t+1}$：从 $t = T$ 向前递推（$\\delta_{T+1} = 0$）。",
        "$h_t$ feeds the output $o_t$ and, through $W$, $h_{t+1}$: recurse backwards from $t = T$ "
        "($\\delta_{T+1} = 0$).",
        r"\frac{\partial L}{\partial h_t} = V^\top(\hat y_t - y_t) + W^\top \delta_{t+1},\qquad"
        r" \delta_t \equiv \frac{\partial L}{\partial a_t} = f'(a_t) \odot \frac{\partial L}{\partial h_t}",
    ),
    (
        "$W, U, b$ 在每一步都被使用：梯度是所有时刻的 $\\delta_t$ 之和——要沿时间把整段历史走一遍。",
        "$W$, $U$ and $b$ are used at every step: their gradients sum $\\delta_t$ over all steps, walking "
        "back through the whole history.",
        r"\frac{\partial L}{\partial W} = \sum_{t=1}^{T} \delta_t\, h_{t-1}^\top,\qquad"
        r" \frac{\partial L}{\partial U} = \sum_{t=1}^{T} \delta_t\, x_t^\top,\qquad"
        r" \frac{\partial L}{\partial b} = \sum_{t=1}^{T} \delta_t",
    ),
    (
        "把递推展开：第 $t$ 步的损失传到第 $k$ 步要乘 $t-k$ 个雅可比矩阵——这正是梯度消失/爆炸的来源。",
        "Unroll the recursion: the loss at step $t$ reaches step $k$ through $t-k$ Jacobians — the "
        "source of vanishing and exploding gradients.",
        r"\frac{\partial L_t}{\partial h_k} = \Big(\prod_{j=k+1}^{t} \frac{\partial h_j}{\partial h_{j-1}}\Big)^{\!\top}"
        r" \frac{\partial L_t}{\partial h_t},\qquad"
        r" \frac{\partial h_j}{\partial h_{j-1}} = \operatorname{diag}\big(f'(a_j)\big)\, W",
    ),
)


def derivation_steps(lang: str = "zh") -> list[tuple[str, str]]:
    """(explanation, LaTeX) pairs of the BPTT derivation, in order."""
    return [(pick(lang, zh, en), tex) for zh, en, tex in _DERIVATION]
