"""fast_trace_module against trace_module (the readable reference) and the torch modules."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnviz.core.cells import GATES
from rnnviz.core.fasttrace import fast_trace_module, replay_gates, run_native_layers
from rnnviz.core.trace import LayerTrace, ModuleTrace, module_kind, trace_module
from rnnviz.errors import RnnVizError

I, H = 5, 6  # noqa: E741 (I is the math's name)
LENGTHS = [7, 3, 5, 1]  # B = 4, T = 7: unsorted, one full, one single token
T = max(LENGTHS)
KINDS = ["lstm", "gru", "rnn_tanh", "rnn_relu"]


def _module(kind: str, dtype: torch.dtype = torch.float32, **kwargs) -> nn.Module:
    kwargs.setdefault("num_layers", 2)
    kwargs.setdefault("bidirectional", True)
    kwargs.setdefault("batch_first", True)
    if kind in ("rnn_tanh", "rnn_relu"):
        module = nn.RNN(I, H, nonlinearity=kind[4:], **kwargs)
    else:
        module = {"lstm": nn.LSTM, "gru": nn.GRU}[kind](I, H, **kwargs)
    if kind != "rnn_relu":  # (relu has no bound: larger weights would make it explode)
        with torch.no_grad():  # larger weights than the default init: gates away from 0.5
            for p in module.parameters():
                p.mul_(2.0)
    return module.to(dtype)


def _input(module: nn.Module, B: int = len(LENGTHS), dtype=torch.float32) -> Tensor:
    x = torch.randn(B, T, I, dtype=dtype)  # (B, T, I)
    return x if module.batch_first else x.transpose(0, 1)


def _assert_same_trace(got: ModuleTrace, ref: ModuleTrace, atol: float) -> None:
    # rtol: beyond |value| ~ 10 one float32 rounding step alone exceeds atol = 1e-5.
    tol = {"atol": atol, "rtol": 1e-6 if atol >= 1e-6 else 1e-10}
    assert isinstance(got, ModuleTrace) and got.kind == ref.kind
    torch.testing.assert_close(got.output, ref.output, **tol)
    torch.testing.assert_close(got.h_n, ref.h_n, **tol)
    if ref.c_n is None:
        assert got.c_n is None
    else:
        torch.testing.assert_close(got.c_n, ref.c_n, **tol)
    assert [(t.layer, t.direction) for t in got.layers] == [
        (t.layer, t.direction) for t in ref.layers
    ]
    for g, r in zip(got.layers, ref.layers, strict=True):
        assert isinstance(g, LayerTrace) and g.kind == r.kind
        assert tuple(g.states) == tuple(r.states) == GATES[ref.kind]  # same gates, same order
        for name in r.states:
            assert g.states[name].shape == r.states[name].shape
            torch.testing.assert_close(
                g.states[name], r.states[name], **tol, msg=f"{g.layer}/{g.direction}/{name}"
            )


def _assert_matches_trace_module(
    module: nn.Module, x: Tensor, lengths: Tensor | None = None, h0=None, atol: float = 1e-5
) -> ModuleTrace:
    with torch.no_grad():
        ref = trace_module(module, x, lengths, h0)
        got = fast_trace_module(module, x, lengths, h0)
    _assert_same_trace(got, ref, atol)
    return got


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
@pytest.mark.parametrize("variable", [True, False], ids=["variable_lengths", "full_lengths"])
def test_fast_trace_equals_trace_module(
    kind: str, num_layers: int, bidirectional: bool, batch_first: bool, variable: bool
) -> None:
    module = _module(
        kind, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first
    )
    lengths = torch.tensor(LENGTHS) if variable else None
    trace = _assert_matches_trace_module(module, _input(module), lengths)
    if variable:  # the padded steps are really there, and zero
        padded = torch.arange(T)[None, :] >= lengths[:, None]
        for layer in trace.layers:
            for state in layer.states.values():
                assert bool((state[padded] == 0).all()) and bool((state[~padded] != 0).any())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_fast_trace_equals_trace_module_in_float64(kind: str, bidirectional: bool) -> None:
    module = _module(kind, torch.float64, bidirectional=bidirectional, batch_first=False)
    x = _input(module, dtype=torch.float64)
    _assert_matches_trace_module(module, x, torch.tensor(LENGTHS), atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_native_pass_equals_the_module_on_a_packed_sequence(kind: str) -> None:
    """output and h_n against torch's own module, independently of trace_module."""
    module = _module(kind, batch_first=False)
    x, lengths = _input(module), torch.tensor(LENGTHS)
    with torch.no_grad():
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        packed_output, state = module(packed)
        output, _ = pad_packed_sequence(packed_output, total_length=T)
        native = run_native_layers(module, x, lengths)
        trace = fast_trace_module(module, x, lengths)
    h_n, c_n = state if isinstance(state, tuple) else (state, None)
    tol = {"atol": 1e-5, "rtol": 1e-6}
    torch.testing.assert_close(native.output, output, **tol)
    torch.testing.assert_close(native.h_n, h_n, **tol)
    if c_n is not None:  # c_n comes from the cell-state scan, not from the kernel
        torch.testing.assert_close(trace.c_n, c_n, **tol)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize(
    "kwargs",
    [{"num_layers": 3, "bidirectional": False}, {"bias": False}],
    ids=["3layer_uni", "no_bias"],
)
def test_fast_trace_equals_trace_module_for_other_shapes(kind: str, kwargs: dict) -> None:
    module = _module(kind, **kwargs)
    _assert_matches_trace_module(module, _input(module), torch.tensor(LENGTHS))


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_relu"])
@pytest.mark.parametrize("variable", [True, False], ids=["variable_lengths", "full_lengths"])
def test_fast_trace_starts_from_the_given_initial_state(kind: str, variable: bool) -> None:
    module = _module(kind)
    h0 = torch.randn(4, len(LENGTHS), H)  # (num_layers * D, B, H)
    if kind == "lstm":
        h0 = (h0, torch.randn(4, len(LENGTHS), H))
    lengths = torch.tensor(LENGTHS) if variable else None
    _assert_matches_trace_module(module, _input(module), lengths, h0)


def test_zero_length_sequence_keeps_its_initial_state() -> None:
    module = _module("lstm")
    h0, c0 = torch.randn(4, 2, H), torch.randn(4, 2, H)
    trace = _assert_matches_trace_module(
        module, torch.randn(2, T, I), torch.tensor([T, 0]), (h0, c0)
    )
    torch.testing.assert_close(trace.h_n[:, 1], h0[:, 1])
    torch.testing.assert_close(trace.c_n[:, 1], c0[:, 1])
    assert bool((trace.output[1] == 0).all())


def test_unbatched_input_gives_unbatched_results() -> None:
    module = _module("lstm", batch_first=False)
    trace = _assert_matches_trace_module(module, torch.randn(T, I))
    assert trace.output.shape == (T, 2 * H) and trace.h_n.shape == trace.c_n.shape == (4, H)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_nan_padding_reaches_no_value_and_no_gradient(kind: str) -> None:
    module = _module(kind, torch.float64)
    n = 4
    sequence = torch.randn(1, n, I, dtype=torch.float64)
    padded = torch.cat([sequence, torch.full((1, T - n, I), float("nan"))], dim=1)
    alone = fast_trace_module(module, sequence)
    inside = fast_trace_module(module, padded, torch.tensor([n]))
    for a, b in zip(alone.layers, inside.layers, strict=True):
        for name in GATES[alone.kind]:
            torch.testing.assert_close(b.states[name][0, :n], a.states[name][0])
            assert bool((b.states[name][0, n:] == 0).all())
    weights = list(module.parameters())
    grads_alone = torch.autograd.grad(alone.output.sum(), weights)
    grads_inside = torch.autograd.grad(inside.output.sum(), weights)
    for a, b in zip(grads_alone, grads_inside, strict=True):
        torch.testing.assert_close(b, a, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_fast_trace_is_differentiable_like_trace_module(kind: str) -> None:
    """Gradients of the outputs AND of a gate, w.r.t. the input and the weights, in float64."""
    module = _module(kind, torch.float64)
    lengths = torch.tensor(LENGTHS)
    x = _input(module, dtype=torch.float64).requires_grad_()
    weights = [module.weight_hh_l0_reverse, module.weight_ih_l1, module.weight_hh_l1]
    gate = GATES[module_kind(module)][0]  # i_t, r_t or a_t: computed by the cell, not the kernel

    def loss(trace: ModuleTrace) -> Tensor:
        return (
            (trace.output**2).sum()
            + trace.h_n.sum()
            + (trace.get(0, "backward").states[gate] ** 2).sum()
            + trace.get(1, "forward").states[gate].sum()
        )

    expected = torch.autograd.grad(loss(trace_module(module, x, lengths)), [x, *weights])
    got = torch.autograd.grad(loss(fast_trace_module(module, x, lengths)), [x, *weights])
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, atol=1e-10, rtol=1e-8)


def test_cell_state_stays_exact_over_a_long_sequence() -> None:
    """Forget gates near 0 and near 1 over 3000 steps: the scan neither underflows nor drifts
    (a cumulative product of f_t would)."""
    module = _module("lstm", num_layers=1, bidirectional=False)
    with torch.no_grad():
        module.bias_ih_l0[H : 2 * H] = torch.linspace(-12.0, 12.0, H)  # f_t from ~0 to ~1
    x = torch.randn(1, 3000, I)
    with torch.no_grad():
        _, (h_n, c_n) = module(x)
        trace = fast_trace_module(module, x)
    c = trace.layers[0].states["c"]
    assert bool(torch.isfinite(c).all())
    torch.testing.assert_close(trace.c_n, c_n, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(trace.h_n, h_n, atol=1e-5, rtol=0)
    # h_t = o_t * tanh(c_t) holds at every step between the kernel's h and the scanned c.
    o = trace.layers[0].states["o"]
    torch.testing.assert_close(trace.layers[0].states["h"], o * torch.tanh(c), atol=1e-5, rtol=0)


def test_replay_reuses_one_native_pass() -> None:
    module = _module("gru")
    x = _input(module)
    with torch.no_grad():
        native = run_native_layers(module, x)
        trace = replay_gates(module, native)
    assert trace.output is native.output and trace.h_n is native.h_n
    assert trace.get(1, "forward").states["h"].shape == (len(LENGTHS), T, H)


def test_bad_inputs_raise_the_same_errors_as_trace_module() -> None:
    module = _module("lstm")
    x = torch.randn(2, T, I)
    bad_calls = [
        (torch.randn(2, T, 3), None, None),
        (x.double(), None, None),
        (x, torch.tensor([T + 1, 2]), None),
        (x, None, torch.zeros(4, 2, H)),
    ]
    for bad_x, lengths, h0 in bad_calls:
        with pytest.raises(RnnVizError) as reference:
            trace_module(module, bad_x, lengths, h0)
        with pytest.raises(RnnVizError) as fast:
            fast_trace_module(module, bad_x, lengths, h0)
        assert str(fast.value) == str(reference.value)
    with pytest.raises(RnnVizError, match="proj_size"):
        fast_trace_module(nn.LSTM(I, H, proj_size=3), torch.randn(T, 1, I))
    with pytest.raises(RnnVizError, match="cannot trace Linear"):
        fast_trace_module(nn.Linear(I, H), torch.randn(T, 1, I))
