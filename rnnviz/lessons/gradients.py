"""Why RNN gradients vanish or explode, and what clipping does about it.

Backprop through T steps multiplies T Jacobians ∂h_k/∂h_{k-1} = diag(f'(a_k)) W. Each factor
stretches a vector by at most max|f'| · ‖W‖₂ (max|f'| = 1/4 for sigmoid, 1 for tanh and ReLU;
‖W‖₂ the largest singular value): below 1 the product surely goes to zero like that factor
to the power T (Pascanu, Mikolov & Bengio 2013, section 2.1); above it, it may blow up.
Goodfellow et al. 10.7 show the same with the eigenvalues of W for a linear recurrence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnviz.errors import RnnVizError
from rnnviz.lessons.unrolled import activate, check_activation

NORMS = ("spectral", "fro")
CLIP_MODES = ("none", "norm", "value")


# --- factor ** T ----------------------------------------------------------------------------


def power(factor: float, T: int) -> float:
    """factor ** T, the size of a product of T equal factors (0.99**100 ≈ 0.366)."""
    if T < 0:
        raise RnnVizError(f"T must be >= 0, got {T}", where="T")
    try:
        return float(factor) ** int(T)
    except OverflowError:  # beyond float range, e.g. 10**400: that is what explosion means
        return float("inf")


def power_curve(factor: float, T: int) -> np.ndarray:
    """factor ** t for t = 0..T, by repeated multiplication (what backprop does), shape (T+1,)."""
    if T < 0:
        raise RnnVizError(f"T must be >= 0, got {T}", where="T")
    with np.errstate(over="ignore"):  # overflow to inf is the point for factors > 1
        return np.cumprod(np.concatenate([[1.0], np.full(T, float(factor))]))


# --- activation derivatives -----------------------------------------------------------------


def activation_derivative(a: np.ndarray, name: str) -> np.ndarray:
    """f'(a) element-wise: sigmoid' = s(1-s) <= 1/4, tanh' = 1 - tanh^2 <= 1, relu' in {0, 1}."""
    a = np.asarray(a, dtype=np.float64)
    check_activation(name)
    if name == "relu":
        return (a > 0).astype(np.float64)  # torch's convention: relu'(0) = 0
    f = activate(a, name)
    return f * (1.0 - f) if name == "sigmoid" else 1.0 - f * f


# --- Jacobian products in a real recurrent net ----------------------------------------------


def scaled_recurrent_matrix(hidden_size: int, spectral_radius: float, seed: int = 0) -> np.ndarray:
    """A random Gaussian W rescaled so that max |eigenvalue| equals ``spectral_radius``."""
    if hidden_size < 1 or spectral_radius <= 0:
        raise RnnVizError("hidden size and spectral radius must be positive")
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 1.0, size=(hidden_size, hidden_size))
    return W * (spectral_radius / spectral_radius_of(W))


def spectral_radius_of(W: np.ndarray) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(W))))


@dataclass(frozen=True)
class RecurrentSetup:
    """A recurrent layer h_t = f(U x_t + W h_{t-1} + b) and an input sequence for it."""

    U: np.ndarray  # (H, D)
    W: np.ndarray  # (H, H)
    b: np.ndarray  # (H,)
    x: np.ndarray  # (T, D)


def jacobian_setup(
    T: int = 100,
    hidden_size: int = 32,
    input_size: int = 8,
    spectral_radius: float = 1.0,
    seed: int = 0,
) -> RecurrentSetup:
    """Seeded weights and inputs; W scaled to the requested spectral radius."""
    if T < 1:
        raise RnnVizError(f"T must be >= 1, got {T}", where="T")
    rng = np.random.default_rng(seed + 1)
    return RecurrentSetup(
        U=rng.normal(0.0, 1.0 / np.sqrt(input_size), size=(hidden_size, input_size)),
        W=scaled_recurrent_matrix(hidden_size, spectral_radius, seed),
        b=np.zeros(hidden_size),
        x=rng.normal(0.0, 1.0, size=(T, input_size)),
    )


def forward_preactivations(setup: RecurrentSetup, activation: str) -> np.ndarray:
    """a_t = U x_t + W h_{t-1} + b for t = 1..T with h_0 = 0, shape (T, H)."""
    h = np.zeros(setup.W.shape[0])
    out = []
    for x_t in setup.x:
        a_t = setup.U @ x_t + setup.W @ h + setup.b
        h = activate(a_t, activation)
        out.append(a_t)
    return np.stack(out)


def step_jacobians(setup: RecurrentSetup, activation: str) -> np.ndarray:
    """J_k = ∂h_k/∂h_{k-1} = diag(f'(a_k)) W for k = 1..T, shape (T, H, H)."""
    a = forward_preactivations(setup, activation)
    return activation_derivative(a, activation)[:, :, None] * setup.W[None, :, :]


def jacobian_product(setup: RecurrentSetup, activation: str, t: int) -> np.ndarray:
    """∂h_T/∂h_t = J_T J_{T-1} ... J_{t+1} (identity when t = T), shape (H, H)."""
    J = step_jacobians(setup, activation)
    T = J.shape[0]
    if not 0 <= t <= T:
        raise RnnVizError(f"t must be between 0 and {T}, got {t}", where="t")
    P = np.eye(J.shape[1])
    for k in range(T, t, -1):  # J_k is J[k-1]
        P = P @ J[k - 1]
    return P


def matrix_norm(M: np.ndarray, norm: str) -> float:
    """'spectral' = largest singular value (the most a vector is stretched), 'fro' = Frobenius."""
    if norm not in NORMS:
        raise RnnVizError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    return float(np.linalg.norm(M, 2 if norm == "spectral" else "fro"))


# The largest |f'(a)| of each activation: sigmoid' = s(1 - s) peaks at 1/4 (a = 0).
DERIVATIVE_MAX = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0}


def product_bound(W: np.ndarray, activation: str, T: int, norm: str = "spectral") -> np.ndarray:
    """An upper bound on ‖J_T ⋯ J_{t+1}‖ for distance T - t = 0..T, shape (T+1,).

    ‖J_k‖₂ = ‖diag(f'(a_k)) W‖₂ <= max|f'| · ‖W‖₂ (‖W‖₂ the largest singular value), so the
    product of T - t factors is at most (max|f'| · ‖W‖₂)^(T-t): with sigmoid (max 1/4) it must
    vanish whenever ‖W‖₂ < 4 (Pascanu, Mikolov & Bengio 2013, section 2.1, eq. 7). The
    Frobenius norm of an H x H matrix is at most sqrt(H) times its spectral norm.
    """
    check_activation(activation)
    step = DERIVATIVE_MAX[activation] * matrix_norm(W, "spectral")
    scale = 1.0 if norm == "spectral" else float(np.sqrt(W.shape[0]))
    with np.errstate(over="ignore"):
        return scale * np.power(step, np.arange(T + 1, dtype=np.float64))


def jacobian_norms(setup: RecurrentSetup, activation: str, norm: str = "spectral") -> np.ndarray:
    """‖∂h_T/∂h_t‖ for distance T - t = 0..T, one product built from the back, shape (T+1,)."""
    J = step_jacobians(setup, activation)
    T, H = J.shape[0], J.shape[1]
    P = np.eye(H)
    norms = [matrix_norm(P, norm)]
    for k in range(T, 0, -1):
        P = P @ J[k - 1]  # now ∂h_T/∂h_{k-1}, distance T - k + 1
        norms.append(matrix_norm(P, norm))
    return np.array(norms)


# --- gradient clipping ----------------------------------------------------------------------


def global_norm(grads: list[np.ndarray]) -> float:
    """‖g‖_2 over all parameters together, the norm torch's clip_grad_norm_ looks at."""
    with np.errstate(over="ignore", invalid="ignore"):  # an exploded gradient may overflow: inf
        return float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads)))


def clip_by_norm(grads: list[np.ndarray], max_norm: float) -> tuple[list[np.ndarray], float]:
    """Rescale all gradients together when ‖g‖ > max_norm: same direction, length max_norm.

    g <- g * max_norm / (‖g‖ + 1e-6) when that factor is < 1 (the 1e-6 as in torch).
    Returns the clipped copies and ‖g‖ before clipping.
    """
    if max_norm <= 0:
        raise RnnVizError(f"clipping threshold must be positive, got {max_norm}", where="max_norm")
    total = global_norm(grads)
    scale = min(1.0, max_norm / (total + 1e-6))
    return [g * scale for g in grads], total


def clip_by_value(grads: list[np.ndarray], clip_value: float) -> list[np.ndarray]:
    """Clamp every component to [-clip_value, clip_value]; the direction may change."""
    if clip_value <= 0:
        raise RnnVizError(f"clipping threshold must be positive, got {clip_value}",
                          where="clip_value")
    return [np.clip(g, -clip_value, clip_value) for g in grads]


def clip_geometry(g: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(norm-clipped, value-clipped) versions of one vector, for the 2-D picture."""
    g = np.asarray(g, dtype=np.float64)
    return clip_by_norm([g], threshold)[0][0], clip_by_value([g], threshold)[0]


def direction_change(g: np.ndarray, clipped: np.ndarray) -> float:
    """The angle between g and its clipped version, in degrees (0: the same direction).

    2 atan2(‖u - v‖, ‖u + v‖) of the unit vectors u, v (Kahan): exact for parallel vectors,
    where arccos of a dot product near 1 would report a spurious small angle.
    """
    g, clipped = np.asarray(g, dtype=np.float64), np.asarray(clipped, dtype=np.float64)
    ng, nc = np.linalg.norm(g), np.linalg.norm(clipped)
    if ng == 0 or nc == 0:
        return 0.0
    u, v = g / ng, clipped / nc
    return float(np.degrees(2 * np.arctan2(np.linalg.norm(u - v), np.linalg.norm(u + v))))


@dataclass(frozen=True)
class ClipEffect:
    """What one kind of clipping did to a gradient g."""

    clipped: np.ndarray
    changed: bool  # some component differs from g's
    angle: float  # degrees between g and the clipped g

    @property
    def kept_direction(self) -> bool:
        return self.angle < 1e-6


def clip_effects(g: np.ndarray, threshold: float) -> dict[str, ClipEffect]:
    """{"norm": ..., "value": ...}: whether each clipping changed g, and by what angle.

    Norm clipping multiplies every component by one factor, so the direction never changes;
    value clipping cuts only the components beyond the threshold, so it turns g unless it
    cuts none (or cuts every component by the same ratio).
    """
    g = np.asarray(g, dtype=np.float64)
    out = {}
    for mode, clipped in zip(("norm", "value"), clip_geometry(g, threshold), strict=True):
        out[mode] = ClipEffect(clipped, bool(not np.array_equal(clipped, g)),
                               direction_change(g, clipped))
    return out


@dataclass(frozen=True)
class ClipRun:
    """One training run: loss and gradient norm (before clipping) per step; NaN after divergence."""

    mode: str
    threshold: float
    loss: np.ndarray  # (steps,)
    grad_norm: np.ndarray  # (steps,)

    @property
    def diverged_at(self) -> int | None:
        """First step whose loss is inf/NaN (0-based), or None if it stayed finite."""
        bad = np.flatnonzero(~np.isfinite(self.loss))
        return int(bad[0]) if bad.size else None


@dataclass(frozen=True)
class ExplodingTask:
    """An RNN set up to explode: ReLU, W with spectral radius > 1, a large learning rate.

    Task: read a random sequence and output the sum of its first two inputs at the last step,
    so the gradient must travel back through all T steps. Loss: mean squared error.
    """

    T: int = 30
    hidden_size: int = 16
    batch: int = 16
    spectral_radius: float = 1.2
    lr: float = 0.3
    steps: int = 100
    seed: int = 0


TASK_PARAMS = ("U", "W", "b", "v", "c")


def task_data(task: ExplodingTask) -> tuple[np.ndarray, np.ndarray]:
    """x (B, T, 1) ~ N(0, 1) and the target y = x_1 + x_2, (B, 1)."""
    rng = np.random.default_rng(task.seed + 1)
    x = rng.normal(size=(task.batch, task.T, 1))
    return x, x[:, :2, 0].sum(axis=1, keepdims=True)


def task_init(task: ExplodingTask) -> dict[str, np.ndarray]:
    """torch.nn.RNN's init (uniform +-1/sqrt(H)) with W rescaled to the chosen spectral radius."""
    H = task.hidden_size
    rng = np.random.default_rng(task.seed)
    k = 1.0 / np.sqrt(H)
    return {
        "U": rng.uniform(-k, k, size=(H, 1)),
        "W": scaled_recurrent_matrix(H, task.spectral_radius, task.seed),
        "b": rng.uniform(-k, k, size=H),
        "v": rng.uniform(-k, k, size=(1, H)),
        "c": rng.uniform(-k, k, size=1),
    }


def task_loss_and_grads(
    P: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray
) -> tuple[float, dict[str, np.ndarray]]:
    """MSE of v h_T + c against y for the ReLU RNN, and its gradients by batched BPTT.

    Plain numpy (not autograd) so a whole training run takes well under a second.
    """
    B, T, _ = x.shape
    h = np.zeros((B, P["W"].shape[0]))
    hs, masks = [h], []
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is the point of the demo
        for t in range(T):
            a = x[:, t] @ P["U"].T + h @ P["W"].T + P["b"]  # (B, H)
            h = np.maximum(a, 0.0)
            hs.append(h)
            masks.append(a > 0)  # relu'(a)
        err = h @ P["v"].T + P["c"] - y  # (B, 1)
        loss = float(np.mean(err**2))
        d_out = 2.0 * err / B
        g = {"v": d_out.T @ h, "c": d_out.sum(axis=0)}
        g.update(U=np.zeros_like(P["U"]), W=np.zeros_like(P["W"]), b=np.zeros_like(P["b"]))
        d_h = d_out @ P["v"]  # (B, H)
        for t in range(T - 1, -1, -1):
            d_a = d_h * masks[t]
            g["W"] += d_a.T @ hs[t]
            g["U"] += d_a.T @ x[:, t]
            g["b"] += d_a.sum(axis=0)
            d_h = d_a @ P["W"]
    return loss, g


def train_with_clipping(task: ExplodingTask, mode: str, threshold: float = 1.0) -> ClipRun:
    """Plain SGD on the task with no clipping, norm clipping or value clipping.

    Seeded: the three modes start from identical weights and see identical data.
    """
    if mode not in CLIP_MODES:
        raise RnnVizError(f"unknown clipping mode {mode!r}; choose one of {', '.join(CLIP_MODES)}")
    x, y = task_data(task)
    P = task_init(task)
    losses = np.full(task.steps, np.nan)
    norms = np.full(task.steps, np.nan)
    for step in range(task.steps):
        loss, g = task_loss_and_grads(P, x, y)
        losses[step] = loss
        if not np.isfinite(loss):
            break  # diverged: the weights are inf/NaN from here on
        grads = [g[n] for n in TASK_PARAMS]
        norms[step] = global_norm(grads)
        if mode == "norm":
            grads, _ = clip_by_norm(grads, threshold)
        elif mode == "value":
            grads = clip_by_value(grads, threshold)
        with np.errstate(over="ignore", invalid="ignore"):
            for n, gn in zip(TASK_PARAMS, grads, strict=True):
                P[n] = P[n] - task.lr * gn
    return ClipRun(mode=mode, threshold=threshold, loss=losses, grad_norm=norms)
