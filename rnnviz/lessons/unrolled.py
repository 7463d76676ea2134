"""A tiny vanilla RNN stepped through a short text, for the structure page.

Course notation: h_t = f(U x_t + W h_{t-1} + b), o_t = V h_t + c. The same U, W, V, b, c are
used at every step (parameter sharing); only x_t and h_{t-1} change. In torch.nn.RNN terms
U = weight_ih_l0, W = weight_hh_l0 and b = bias_ih_l0 + bias_hh_l0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rnnviz.core.text import CharTokenizer
from rnnviz.errors import RnnVizError

ACTIVATIONS = ("tanh", "relu", "sigmoid")
MAX_DEMO_CHARS = 24  # more columns than this make the heatmap and the equation unreadable


def _sigmoid(a: np.ndarray) -> np.ndarray:
    # Split by sign so exp never overflows for large |a|.
    out = np.empty_like(a, dtype=np.float64)
    pos = a >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-a[pos]))
    e = np.exp(a[~pos])
    out[~pos] = e / (1.0 + e)
    return out


_F: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0.0),
    "sigmoid": _sigmoid,
}


def check_activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise RnnVizError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return name


def activate(a: np.ndarray, name: str) -> np.ndarray:
    """f(a) for f in tanh, relu, sigmoid (element-wise)."""
    return _F[check_activation(name)](np.asarray(a, dtype=np.float64))


@dataclass(frozen=True)
class TinyRNN:
    """Weights of a one-layer vanilla RNN in the course's notation (float64)."""

    U: np.ndarray  # (H, D) input -> hidden
    W: np.ndarray  # (H, H) hidden -> hidden
    b: np.ndarray  # (H,)
    V: np.ndarray  # (K, H) hidden -> output
    c: np.ndarray  # (K,)
    activation: str = "tanh"

    @property
    def hidden_size(self) -> int:
        return self.W.shape[0]

    @property
    def input_size(self) -> int:
        return self.U.shape[1]


def demo_rnn(
    input_size: int = 4,
    hidden_size: int = 6,
    output_size: int = 3,
    activation: str = "tanh",
    seed: int = 0,
) -> TinyRNN:
    """Seeded random weights, scaled like torch's default init (uniform +-1/sqrt(H))."""
    check_activation(activation)
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(hidden_size)

    def u(*shape: int) -> np.ndarray:
        return rng.uniform(-k, k, size=shape)

    # U and W are drawn a little larger than torch's default so the demo states are not all ~0.
    return TinyRNN(
        U=2.0 * u(hidden_size, input_size),
        W=2.0 * u(hidden_size, hidden_size),
        b=u(hidden_size),
        V=u(output_size, hidden_size),
        c=u(output_size),
        activation=activation,
    )


def char_embedding(ch: str, dim: int = 4, seed: int = 0) -> np.ndarray:
    """A fixed random vector per character: the same character always gets the same x_t."""
    rng = np.random.default_rng([seed, ord(ch)])
    return np.round(rng.normal(0.0, 1.0, size=dim), 2)  # 2 decimals: readable in the equation


def embed_text(text: str, dim: int = 4, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Characters of ``text`` (spaces dropped, at most MAX_DEMO_CHARS) and their x_t, (T, dim)."""
    chars = CharTokenizer()(text)
    if not chars:
        raise RnnVizError("the input text has no characters to step through", where="text")
    chars = chars[:MAX_DEMO_CHARS]
    return chars, np.stack([char_embedding(ch, dim, seed) for ch in chars])


@dataclass(frozen=True)
class UnrolledRun:
    """Every intermediate of the forward pass; row t-1 holds step t."""

    x: np.ndarray  # (T, D)
    a: np.ndarray  # (T, H) pre-activation U x_t + W h_{t-1} + b
    h: np.ndarray  # (T, H)
    o: np.ndarray  # (T, K)
    h0: np.ndarray  # (H,)

    def h_prev(self, t: int) -> np.ndarray:
        """h_{t-1} for step t (1-based)."""
        return self.h0 if t == 1 else self.h[t - 2]


def run_rnn(model: TinyRNN, x: np.ndarray, h0: np.ndarray | None = None) -> UnrolledRun:
    """The explicit loop over time, one step per character."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != model.input_size:
        raise RnnVizError(f"inputs must have shape (T, {model.input_size}), got {x.shape}")
    H = model.hidden_size
    h = np.zeros(H) if h0 is None else np.asarray(h0, dtype=np.float64)
    start = h
    a_all, h_all = [], []
    for x_t in x:
        a_t = model.U @ x_t + model.W @ h + model.b
        h = activate(a_t, model.activation)
        a_all.append(a_t)
        h_all.append(h)
    h_mat = np.stack(h_all)
    return UnrolledRun(x=x, a=np.stack(a_all), h=h_mat, o=h_mat @ model.V.T + model.c, h0=start)


@dataclass(frozen=True)
class StepTerms:
    """The pieces of h_t = f(U x_t + W h_{t-1} + b) for one step t (1-based)."""

    t: int
    x_t: np.ndarray
    h_prev: np.ndarray
    Ux: np.ndarray
    Wh: np.ndarray
    b: np.ndarray
    a: np.ndarray
    h_t: np.ndarray


def step_terms(model: TinyRNN, run: UnrolledRun, t: int) -> StepTerms:
    T = run.h.shape[0]
    if not 1 <= t <= T:
        raise RnnVizError(f"step must be between 1 and {T}, got {t}", where="t")
    x_t, h_prev = run.x[t - 1], run.h_prev(t)
    Ux, Wh = model.U @ x_t, model.W @ h_prev
    a = Ux + Wh + model.b
    return StepTerms(t, x_t, h_prev, Ux, Wh, model.b.copy(), a, activate(a, model.activation))


def _fmt(v: float, digits: int) -> str:
    s = f"{v:.{digits}f}"
    return "0." + "0" * digits if s.lstrip("-") == "0." + "0" * digits else s  # no "-0.00"


def _matrix(m: np.ndarray, digits: int) -> str:
    rows = np.atleast_2d(m) if m.ndim == 2 else m.reshape(-1, 1)
    body = r" \\ ".join(" & ".join(_fmt(v, digits) for v in row) for row in rows)
    return r"\begin{bmatrix}" + body + r"\end{bmatrix}"


_F_TEX = {"tanh": r"\tanh", "relu": r"\operatorname{ReLU}", "sigmoid": r"\sigma"}


def step_latex(model: TinyRNN, terms: StepTerms, digits: int = 2) -> str:
    """LaTeX of h_t = f(U x_t + W h_{t-1} + b) with the real numbers: the matrices (two lines, to
    fit the page), then the summed vectors, then f(a) = h_t."""
    f = _F_TEX[model.activation]
    t = terms.t
    m = lambda a: _matrix(a, digits)  # noqa: E731
    return (
        r"\begin{aligned}"
        rf"h_{{{t}}} &= {f}\Big(\underbrace{{{m(model.U)}}}_{{U}}"
        rf"\underbrace{{{m(terms.x_t)}}}_{{x_{{{t}}}}} \\"
        rf"&\qquad + \underbrace{{{m(model.W)}}}_{{W}}"
        rf"\underbrace{{{m(terms.h_prev)}}}_{{h_{{{t - 1}}}}}"
        rf" + \underbrace{{{m(terms.b)}}}_{{b}}\Big) \\[4pt]"
        rf"&= {f}\Big({m(terms.Ux)} + {m(terms.Wh)} + {m(terms.b)}\Big)"
        rf" = {f}\Big({m(terms.a)}\Big) = {m(terms.h_t)}"
        r"\end{aligned}"
    )


def repeated_character(chars: list[str]) -> tuple[str, int, int] | None:
    """The first character read twice, with the two steps (1-based) that read it; None when
    every character is different."""
    seen: dict[str, int] = {}
    for t, ch in enumerate(chars, start=1):
        if ch in seen:
            return ch, seen[ch], t
        seen[ch] = t
    return None
