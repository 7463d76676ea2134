"""Powers, activation derivatives, Jacobian products and clipping, against independent
references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnviz.errors import RnnVizError
from rnnviz.lessons.gradients import (
    TASK_PARAMS,
    ExplodingTask,
    activation_derivative,
    clip_by_norm,
    clip_by_value,
    clip_effects,
    clip_geometry,
    global_norm,
    jacobian_norms,
    jacobian_product,
    jacobian_setup,
    power,
    power_curve,
    product_bound,
    scaled_recurrent_matrix,
    spectral_radius_of,
    task_data,
    task_init,
    task_loss_and_grads,
    train_with_clipping,
)


def test_power_matches_closed_form() -> None:
    assert power(0.99, 100) == pytest.approx(math.exp(100 * math.log(0.99)), rel=1e-12)
    assert power(1.1, 100) == pytest.approx(math.exp(100 * math.log(1.1)), rel=1e-12)
    assert f"{power(0.99, 100):.3f}" == "0.366"
    assert f"{power(1.1, 100):.1f}" == "13780.6"
    assert power(10.0, 400) == math.inf  # beyond float range: explosion, not an error


def test_power_curve_is_repeated_multiplication() -> None:
    curve = power_curve(1.1, 100)
    assert curve.shape == (101,)
    assert curve[0] == 1.0
    np.testing.assert_allclose(curve, 1.1 ** np.arange(101), rtol=1e-12)
    with pytest.raises(RnnVizError):
        power_curve(0.5, -1)


@pytest.mark.parametrize(
    ("name", "fn", "peak"),
    [("sigmoid", torch.sigmoid, 0.25), ("tanh", torch.tanh, 1.0), ("relu", torch.relu, 1.0)],
)
def test_activation_derivative_matches_autograd(name: str, fn, peak: float) -> None:
    z = torch.linspace(-6, 6, 241, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(fn(z).sum(), z)
    got = activation_derivative(z.detach().numpy(), name)
    np.testing.assert_allclose(got, grad.numpy(), atol=1e-14)
    assert got.max() == pytest.approx(peak, abs=1e-12)


def test_scaled_matrix_has_requested_spectral_radius() -> None:
    W = scaled_recurrent_matrix(32, 1.7, seed=4)
    assert spectral_radius_of(W) == pytest.approx(1.7, rel=1e-10)
    # Independent check: the dominant eigenvalue from torch.
    assert float(torch.linalg.eigvals(torch.from_numpy(W)).abs().max()) == pytest.approx(1.7)


def _torch_hT_from_ht(setup, activation: str, t: int):
    f = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}[activation]
    U, W, b = (torch.from_numpy(m) for m in (setup.U, setup.W, setup.b))
    x = torch.from_numpy(setup.x)

    def h_T(h_t: torch.Tensor) -> torch.Tensor:
        h = h_t
        for k in range(t + 1, x.shape[0] + 1):  # steps t+1..T
            h = f(U @ x[k - 1] + W @ h + b)
        return h

    h = torch.zeros(W.shape[0], dtype=torch.float64)
    for k in range(1, t + 1):  # the forward pass up to h_t
        h = f(U @ x[k - 1] + W @ h + b)
    return h_T, h


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_jacobian_product_matches_torch_jacobian(activation: str) -> None:
    setup = jacobian_setup(T=15, hidden_size=12, spectral_radius=1.5, seed=2)
    for t in (0, 7, 14):
        fn, h_t = _torch_hT_from_ht(setup, activation, t)
        expected = torch.autograd.functional.jacobian(fn, h_t).numpy()
        np.testing.assert_allclose(jacobian_product(setup, activation, t), expected, atol=1e-12)


@pytest.mark.parametrize("norm", ["spectral", "fro"])
def test_jacobian_norms_by_distance(norm: str) -> None:
    setup = jacobian_setup(T=15, hidden_size=12, spectral_radius=1.5, seed=2)
    norms = jacobian_norms(setup, "tanh", norm)
    assert norms.shape == (16,)
    assert norms[0] == pytest.approx(1.0 if norm == "spectral" else math.sqrt(12))
    for distance in (1, 6, 15):
        fn, h_t = _torch_hT_from_ht(setup, "tanh", 15 - distance)
        J = torch.autograd.functional.jacobian(fn, h_t)
        expected = torch.linalg.matrix_norm(J, ord=2 if norm == "spectral" else "fro")
        assert norms[distance] == pytest.approx(float(expected), rel=1e-10)


def test_sigmoid_vanishes_faster_than_tanh() -> None:
    setup = jacobian_setup(T=60, spectral_radius=1.0)
    sig, tanh = jacobian_norms(setup, "sigmoid"), jacobian_norms(setup, "tanh")
    # Each sigmoid factor is at most 0.25 * ‖W‖.
    assert sig[-1] <= (0.25 * np.linalg.norm(setup.W, 2)) ** 60
    assert sig[-1] < tanh[-1] < 1e-3


@pytest.mark.parametrize("norm", ["spectral", "fro"])
@pytest.mark.parametrize("rho", [0.8, 2.0, 4.0])
def test_sigmoid_product_stays_under_its_quarter_norm_ceiling(norm: str, rho: float) -> None:
    """sigmoid' <= 1/4: each step multiplies by at most ‖W‖₂/4 (Pascanu et al. 2013, eq. 7)."""
    setup = jacobian_setup(T=40, hidden_size=16, spectral_radius=rho, seed=1)
    bound = product_bound(setup.W, "sigmoid", 40, norm)
    w2 = float(torch.linalg.matrix_norm(torch.from_numpy(setup.W), ord=2))
    scale = 1.0 if norm == "spectral" else 4.0  # sqrt(16) for Frobenius
    np.testing.assert_allclose(bound, scale * (w2 / 4) ** np.arange(41), rtol=1e-10)
    assert (jacobian_norms(setup, "sigmoid", norm) <= bound * (1 + 1e-10)).all()
    # tanh has no such factor 1/4: its ceiling per step is ‖W‖₂ itself.
    assert product_bound(setup.W, "tanh", 1)[1] == pytest.approx(w2)


def _grads() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(size=(4, 3)) * 5, rng.normal(size=3) * 5]


def _torch_params_with_grads(grads: list[np.ndarray]) -> list[torch.Tensor]:
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = torch.from_numpy(g.copy())
    return params


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e6])
def test_clip_by_norm_matches_torch(max_norm: float) -> None:
    grads = _grads()
    params = _torch_params_with_grads(grads)
    torch_total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    clipped, total = clip_by_norm(grads, max_norm)
    assert total == pytest.approx(float(torch_total), rel=1e-12)
    for p, c in zip(params, clipped, strict=True):
        np.testing.assert_allclose(c, p.grad.numpy(), rtol=1e-12)
    if max_norm < total:
        assert global_norm(clipped) == pytest.approx(max_norm, rel=1e-6)


def test_clip_by_value_matches_torch() -> None:
    grads = _grads()
    params = _torch_params_with_grads(grads)
    torch.nn.utils.clip_grad_value_(params, 2.0)
    for p, c in zip(params, clip_by_value(grads, 2.0), strict=True):
        np.testing.assert_array_equal(c, p.grad.numpy())
    with pytest.raises(RnnVizError):
        clip_by_value(grads, 0.0)


def test_task_gradients_match_torch_rnn_autograd() -> None:
    task = ExplodingTask(T=7, hidden_size=5, batch=4)
    P = task_init(task)
    x, y = task_data(task)
    loss, g = task_loss_and_grads(P, x, y)

    rnn = torch.nn.RNN(1, 5, nonlinearity="relu", batch_first=True, dtype=torch.float64)
    head = torch.nn.Linear(5, 1, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(P["U"]))
        rnn.weight_hh_l0.copy_(torch.from_numpy(P["W"]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(P["b"]))
        rnn.bias_hh_l0.zero_()
        head.weight.copy_(torch.from_numpy(P["v"]))
        head.bias.copy_(torch.from_numpy(P["c"]))
    out, _ = rnn(torch.from_numpy(x))
    ref = torch.nn.functional.mse_loss(head(out[:, -1]), torch.from_numpy(y))
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    expected = {"U": rnn.weight_ih_l0, "W": rnn.weight_hh_l0, "b": rnn.bias_ih_l0,
                "v": head.weight, "c": head.bias}
    for name, param in expected.items():
        np.testing.assert_allclose(g[name], param.grad.numpy(), atol=1e-12)
    assert set(g) == set(TASK_PARAMS)


def test_clip_geometry_keeps_or_changes_direction() -> None:
    g = np.array([4.0, 0.5])
    by_norm, by_value = clip_geometry(g, 1.0)
    assert np.linalg.norm(by_norm) == pytest.approx(1.0, rel=1e-5)
    assert by_norm[1] / by_norm[0] == pytest.approx(g[1] / g[0])  # same direction
    np.testing.assert_allclose(by_value, [1.0, 0.5])  # the direction turned


@pytest.mark.parametrize("c", [0.1, 0.5, 1.0, 2.0, 3.0, 3.2, 5.0, 20.0])
def test_clip_effects_say_what_each_clipping_did(c: float) -> None:
    g = np.array([3.0, 0.8])
    effects = clip_effects(g, c)
    params = _torch_params_with_grads([g])
    torch.nn.utils.clip_grad_value_(params, c)
    by_value = params[0].grad.numpy()
    np.testing.assert_array_equal(effects["value"].clipped, by_value)
    # Closed form: the angle between g and the clamped vector, from their polar angles.
    angle = abs(np.degrees(np.arctan2(by_value[1], by_value[0]) - np.arctan2(0.8, 3.0)))
    assert effects["value"].angle == pytest.approx(angle, abs=1e-9)
    assert effects["value"].changed == (c < 3.0)  # only |g_1| = 3 can exceed c ...
    assert effects["value"].kept_direction == (c >= 3.0)  # ... and cutting it turns g
    # Norm clipping never turns g and changes it only when ‖g‖ > c.
    assert effects["norm"].kept_direction and effects["norm"].angle == pytest.approx(0, abs=1e-12)
    assert effects["norm"].changed == (c < np.hypot(3.0, 0.8))
    if c <= 0.5:  # both components cut to c: the clipped g points along the diagonal
        assert effects["value"].angle == pytest.approx(45 - np.degrees(np.arctan(0.8 / 3.0)))


def test_training_explodes_without_clipping_and_trains_with_norm_clipping() -> None:
    task = ExplodingTask()
    assert spectral_radius_of(task_init(task)["W"]) == pytest.approx(task.spectral_radius)
    plain = train_with_clipping(task, "none")
    clipped = train_with_clipping(task, "norm", threshold=1.0)
    assert plain.diverged_at is not None and plain.diverged_at < 10
    assert clipped.diverged_at is None
    assert clipped.loss[-1] < 0.1 * clipped.loss[0]
    assert np.isfinite(clipped.grad_norm).all()
    assert clipped.loss[0] == plain.loss[0]  # same start: same seed, same data
    # The clipped run's steps never exceed the threshold; the first unclipped one does.
    assert plain.grad_norm[0] > 1.0


def test_unknown_clip_mode_is_rejected() -> None:
    with pytest.raises(RnnVizError, match="clipping mode"):
        train_with_clipping(ExplodingTask(steps=1), "both")
