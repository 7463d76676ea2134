"""trace_module against the torch modules it replays, packed sequences included."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnviz.core.cells import GATES
from rnnviz.core.trace import ModuleTrace, trace_module
from rnnviz.errors import RnnVizError

I, H = 5, 6  # noqa: E741 (I is the math's name)
LENGTHS = [7, 3, 5, 1]  # B = 4, T = 7: unsorted, one full, one single token
T = max(LENGTHS)


def _module(kind: str, **kwargs) -> nn.Module:
    kwargs.setdefault("num_layers", 2)
    kwargs.setdefault("bidirectional", True)
    if kind in ("rnn_tanh", "rnn_relu"):
        return nn.RNN(I, H, nonlinearity=kind[4:], **kwargs)
    return {"lstm": nn.LSTM, "gru": nn.GRU}[kind](I, H, **kwargs)


def _input(module: nn.Module, B: int = len(LENGTHS), dtype=torch.float32) -> Tensor:
    x = torch.randn(B, T, I, dtype=dtype)  # (B, T, I)
    return x if module.batch_first else x.transpose(0, 1)


def _reference(
    module: nn.Module, x: Tensor, lengths: Tensor | None, h0=None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """module's output, h_n, c_n; through pack_padded_sequence when lengths are given."""
    if lengths is None:
        output, state = module(x, h0)
    else:
        packed = pack_padded_sequence(
            x, lengths, batch_first=module.batch_first, enforce_sorted=False
        )
        packed_output, state = module(packed, h0)
        output, _ = pad_packed_sequence(
            packed_output, batch_first=module.batch_first, total_length=x.shape[module.batch_first]
        )
    h_n, c_n = state if isinstance(state, tuple) else (state, None)
    return output, h_n, c_n


def _assert_trace_matches(
    module: nn.Module, x: Tensor, lengths: Tensor | None, h0=None, atol: float = 1e-5
) -> ModuleTrace:
    with torch.no_grad():
        output, h_n, c_n = _reference(module, x, lengths, h0)
        trace = trace_module(module, x, lengths, h0)
    tol = {"atol": atol, "rtol": 0.0}
    assert trace.output.shape == output.shape
    torch.testing.assert_close(trace.output, output, **tol)
    torch.testing.assert_close(trace.h_n, h_n, **tol)
    if c_n is None:
        assert trace.c_n is None
    else:
        torch.testing.assert_close(trace.c_n, c_n, **tol)
    return trace


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
@pytest.mark.parametrize("variable", [True, False], ids=["variable_lengths", "full_lengths"])
def test_trace_matches_two_layer_bidirectional_module(
    kind: str, batch_first: bool, variable: bool
) -> None:
    module = _module(kind, batch_first=batch_first)
    lengths = torch.tensor(LENGTHS) if variable else None
    _assert_trace_matches(module, _input(module), lengths)


def test_trace_matches_bidirectional_lstm_with_variable_lengths() -> None:
    module = _module("lstm", batch_first=True)
    lengths = torch.tensor(LENGTHS)
    trace = _assert_trace_matches(module, _input(module), lengths)
    assert trace.kind == "lstm"
    assert [(t.layer, t.direction) for t in trace.layers] == [
        (0, "forward"),
        (0, "backward"),
        (1, "forward"),
        (1, "backward"),
    ]
    for layer in trace.layers:
        assert tuple(layer.states) == GATES["lstm"] and layer.kind == "lstm"
        for state in layer.states.values():
            assert state.shape == (len(LENGTHS), T, H)


def test_trace_matches_bidirectional_gru_with_variable_lengths_in_float64() -> None:
    module = _module("gru", batch_first=False).double()
    _assert_trace_matches(
        module, _input(module, dtype=torch.float64), torch.tensor(LENGTHS), atol=1e-12
    )


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_trace_matches_in_float64(kind: str) -> None:
    module = _module(kind, batch_first=True).double()
    _assert_trace_matches(
        module, _input(module, dtype=torch.float64), torch.tensor(LENGTHS), atol=1e-12
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_layers": 1, "bidirectional": False},
        {"num_layers": 3, "bidirectional": False},
        {"num_layers": 1, "bidirectional": True},
        {"num_layers": 2, "bidirectional": True, "bias": False},
    ],
    ids=["1layer_uni", "3layer_uni", "1layer_bi", "no_bias"],
)
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_trace_matches_other_shapes_of_module(kind: str, kwargs: dict) -> None:
    module = _module(kind, batch_first=True, **kwargs)
    _assert_trace_matches(module, _input(module), torch.tensor(LENGTHS))


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_trace_starts_from_the_given_initial_state(kind: str) -> None:
    module = _module(kind, batch_first=True)
    h0 = torch.randn(4, len(LENGTHS), H)  # (num_layers * D, B, H)
    if kind == "lstm":
        h0 = (h0, torch.randn(4, len(LENGTHS), H))
    _assert_trace_matches(module, _input(module), torch.tensor(LENGTHS), h0)
    _assert_trace_matches(module, _input(module), None, h0)


def test_trace_matches_unbatched_input() -> None:
    module = _module("lstm")
    x = torch.randn(T, I)  # (T, I): no batch axis
    trace = _assert_trace_matches(module, x, None)
    assert trace.output.shape == (T, 2 * H) and trace.h_n.shape == (4, H)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_relu"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
def test_last_layer_hidden_states_are_the_output_and_padding_is_zero(
    kind: str, batch_first: bool
) -> None:
    module = _module(kind, batch_first=batch_first)
    lengths = torch.tensor(LENGTHS)
    with torch.no_grad():
        trace = trace_module(module, _input(module), lengths)
    output = trace.output if batch_first else trace.output.transpose(0, 1)  # (B, T, 2H)
    torch.testing.assert_close(trace.get(1, "forward").states["h"], output[..., :H])
    torch.testing.assert_close(trace.get(1, "backward").states["h"], output[..., H:])
    padded = torch.arange(T)[None, :] >= lengths[:, None]  # (B, T)
    assert padded.any()
    for layer in trace.layers:
        for name, state in layer.states.items():
            assert bool((state[padded] == 0).all()), (layer.layer, layer.direction, name)
            assert bool((state[~padded] != 0).any()), (layer.layer, layer.direction, name)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("junk", [0.0, 1e3, float("nan")], ids=["zeros", "large", "nan"])
def test_padded_and_unpadded_copies_give_the_same_states(kind: str, junk: float) -> None:
    module = _module(kind, batch_first=True)
    n = 4
    sequence = torch.randn(1, n, I)
    padded = torch.cat([sequence, torch.full((1, T - n, I), junk)], dim=1)
    # Put the padded copy second in a batch beside a full-length sequence.
    batch = torch.cat([torch.randn(1, T, I), padded], dim=0)
    with torch.no_grad():
        alone = trace_module(module, sequence)
        inside = trace_module(module, batch, torch.tensor([T, n]))
    for a, b in zip(alone.layers, inside.layers, strict=True):
        for name in GATES[alone.kind]:
            torch.testing.assert_close(b.states[name][1, :n], a.states[name][0], atol=1e-6, rtol=0)
            assert bool((b.states[name][1, n:] == 0).all())
    torch.testing.assert_close(inside.h_n[:, 1], alone.h_n[:, 0], atol=1e-6, rtol=0)
    assert bool(torch.isfinite(inside.output).all())


def test_nan_padding_does_not_reach_the_gradients() -> None:
    module = _module("lstm", batch_first=True).double()
    n = 4
    sequence = torch.randn(1, n, I, dtype=torch.float64)
    padded = torch.cat([sequence, torch.full((1, T - n, I), float("nan"))], dim=1)
    weights = list(module.parameters())
    alone = torch.autograd.grad(trace_module(module, sequence).output.sum(), weights)
    inside = torch.autograd.grad(
        trace_module(module, padded, torch.tensor([n])).output.sum(), weights
    )
    for a, b in zip(alone, inside, strict=True):
        torch.testing.assert_close(b, a, atol=1e-10, rtol=1e-8)


def test_zero_length_sequence_keeps_its_initial_state() -> None:
    module = _module("lstm", batch_first=True)
    h0, c0 = torch.randn(4, 2, H), torch.randn(4, 2, H)
    with torch.no_grad():
        trace = trace_module(module, torch.randn(2, T, I), torch.tensor([T, 0]), (h0, c0))
    torch.testing.assert_close(trace.h_n[:, 1], h0[:, 1])
    torch.testing.assert_close(trace.c_n[:, 1], c0[:, 1])
    assert bool((trace.output[1] == 0).all())


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_trace_is_differentiable_like_the_module(kind: str) -> None:
    module = _module(kind, batch_first=True).double()
    lengths = torch.tensor(LENGTHS)
    x = _input(module, dtype=torch.float64).requires_grad_()
    weights = [module.weight_hh_l0_reverse, module.weight_ih_l1]
    output, h_n, _ = _reference(module, x, lengths)
    expected = torch.autograd.grad((output**2).sum() + h_n.sum(), [x, *weights])
    trace = trace_module(module, x, lengths)
    got = torch.autograd.grad((trace.output**2).sum() + trace.h_n.sum(), [x, *weights])
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, atol=1e-10, rtol=1e-8)


def test_get_names_a_missing_layer() -> None:
    module = _module("gru", bidirectional=False)
    with torch.no_grad():
        trace = trace_module(module, _input(module))
    assert trace.get(1, "forward").layer == 1
    with pytest.raises(RnnVizError, match="no layer 0 'backward'"):
        trace.get(0, "backward")


def test_unsupported_modules_raise_rnnviz_error() -> None:
    with pytest.raises(RnnVizError, match="proj_size"):
        trace_module(nn.LSTM(I, H, proj_size=3), torch.randn(T, 1, I))
    with pytest.raises(RnnVizError, match="cannot trace Linear"):
        trace_module(nn.Linear(I, H), torch.randn(T, 1, I))


def test_bad_inputs_raise_rnnviz_error_naming_the_field() -> None:
    module = _module("lstm", batch_first=True)
    x = torch.randn(2, T, I)
    with pytest.raises(RnnVizError, match="^x: x has 3 features"):
        trace_module(module, torch.randn(2, T, 3))
    with pytest.raises(RnnVizError, match="^x: expected x of shape"):
        trace_module(module, torch.randn(2, T, I, 1))
    with pytest.raises(RnnVizError, match="^x: x is torch.float64"):
        trace_module(module, x.double())
    with pytest.raises(RnnVizError, match=r"^lengths: lengths must lie in 0\.\.7"):
        trace_module(module, x, torch.tensor([T + 1, 2]))
    with pytest.raises(RnnVizError, match=r"^lengths: expected integer lengths of shape \(2,\)"):
        trace_module(module, x, torch.tensor([3]))
    with pytest.raises(RnnVizError, match="^h0: an LSTM takes h0 as the pair"):
        trace_module(module, x, h0=torch.zeros(4, 2, H))
    with pytest.raises(RnnVizError, match=r"^c0: expected c0 of shape \(4, 2, 6\)"):
        trace_module(module, x, h0=(torch.zeros(4, 2, H), torch.zeros(2, 2, H)))
