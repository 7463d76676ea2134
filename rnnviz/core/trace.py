"""Replay a trained torch.nn RNN / LSTM / GRU through the step functions of ``rnnviz.core.cells``.

``trace_module`` runs the module's own weights through ``rnn_step`` / ``lstm_step`` /
``gru_step`` and keeps every gate at every time step, so a page can draw what the module
computed. Its output, h_n and c_n equal the module's (tests/test_trace.py checks them against
``module(pack_padded_sequence(...))``).

How it stays fast enough to run per prediction:
- W_ih x_t + b_ih does not depend on h_{t-1}: it is computed for all steps and both
  directions in one matmul per layer; the Python loop over time does only the recurrent part;
- both directions run in the same loop, their weights stacked on a leading axis (D, ...);
- the backward direction runs forwards over each sequence reversed within its own length, so
  in that frame every sequence's padding comes after its real tokens: padding never reaches a
  real step, and the final state of each sequence is read at its own last real step (exactly
  what a packed sequence gives).

Inter-layer dropout is NOT applied: the trace shows the module as it predicts (eval mode).
The trace is differentiable; wrap it in ``torch.inference_mode()`` when only the numbers count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from rnnviz.core.cells import GATES, NN_MODULES, gru_step, layer_weights, lstm_step, rnn_step
from rnnviz.errors import RnnVizError

DIRECTIONS = ("forward", "backward")


@dataclass
class LayerTrace:
    """Every gate of one layer and one direction, in time order."""

    layer: int
    direction: str  # "forward" | "backward"
    kind: str  # "rnn" | "lstm" | "gru"
    states: dict[str, Tensor]  # gate name -> (B, T, H), time order, zeros at padded steps


@dataclass
class ModuleTrace:
    """A module replayed step by step: its gates, and the same results the module returns."""

    kind: str
    layers: list[LayerTrace]  # layer0 forward, layer0 backward, layer1 forward, ...
    output: Tensor  # like module(x)[0]: (B, T, D*H) if batch_first else (T, B, D*H)
    h_n: Tensor  # (num_layers * D, B, H)
    c_n: Tensor | None  # LSTM only

    def get(self, layer: int, direction: str) -> LayerTrace:
        for trace in self.layers:
            if trace.layer == layer and trace.direction == direction:
                return trace
        have = ", ".join(f"{t.layer}/{t.direction}" for t in self.layers)
        raise RnnVizError(f"no layer {layer} {direction!r} in this trace (it has {have})")


def module_kind(module: nn.Module) -> str:
    """The cell kind ("rnn", "lstm" or "gru") of a module trace_module can replay."""
    if isinstance(module, nn.LSTM) and module.proj_size > 0:
        raise RnnVizError("LSTM with proj_size > 0 cannot be traced", where="proj_size")
    for kind, cls in NN_MODULES.items():
        if isinstance(module, cls):
            return kind
    raise RnnVizError(
        f"cannot trace {type(module).__name__}: expected torch.nn.RNN, nn.LSTM or nn.GRU"
    )


def trace_module(
    module: nn.RNN | nn.LSTM | nn.GRU,
    x: Tensor,
    lengths: Tensor | None = None,
    h0: Tensor | tuple[Tensor, Tensor] | None = None,
) -> ModuleTrace:
    """Replay ``module`` on ``x`` through the cells of ``rnnviz.core.cells``, keeping every gate.

    x: (B, T, I) if module.batch_first else (T, B, I); an unbatched (T, I) also works (the
    states then have B = 1). lengths: (B,) real lengths (0..T); steps past them are padding,
    as in pack_padded_sequence. h0: (num_layers*D, B, H), for an LSTM the pair (h0, c0).
    The output keeps x's length T, zeros at padded steps (pad_packed_sequence with
    total_length=T).
    """
    p = prepare_inputs(module, x, lengths, h0)
    kind, L, D, x, unbatched = p.kind, p.L, p.D, p.x, p.unbatched
    lengths, h0_all, c0_all, real = p.lengths, p.h0_all, p.c0_all, p.real

    layers: list[LayerTrace] = []
    h_n: list[Tensor] = []
    c_n: list[Tensor] = []
    layer_input = x  # (B, T, I) for layer 0, (B, T, D*H) above it
    for k in range(L):
        rows = slice(k * D, (k + 1) * D)
        c0 = c0_all[rows] if c0_all is not None else None
        states, h_last, c_last = _run_layer(
            module, kind, k, D, layer_input, lengths, real, h0_all[rows], c0
        )
        for d in range(D):
            layers.append(
                LayerTrace(
                    layer=k,
                    direction=DIRECTIONS[d],
                    kind=kind,
                    states={name: s[d] for name, s in states.items()},
                )
            )
        h_n.append(h_last)
        if c_last is not None:
            c_n.append(c_last)
        layer_input = torch.cat(list(states["h"].unbind(0)), dim=-1)  # (B, T, D*H)

    output = layer_input
    h_n_t = torch.cat(h_n, dim=0)
    c_n_t = torch.cat(c_n, dim=0) if kind == "lstm" else None
    if unbatched:
        output, h_n_t = output[0], h_n_t[:, 0]
        c_n_t = c_n_t[:, 0] if c_n_t is not None else None
    elif not module.batch_first:
        output = output.transpose(0, 1)
    return ModuleTrace(kind=kind, layers=layers, output=output, h_n=h_n_t, c_n=c_n_t)


@dataclass
class PreparedInputs:
    """A checked call of trace_module / fast_trace_module: sizes, batch-first x, lengths,
    initial states, and real[b, t] (t is a real token of sequence b, also when reversed)."""

    kind: str
    L: int
    D: int
    H: int
    x: Tensor  # (B, T, I)
    unbatched: bool
    B: int
    T: int
    lengths: Tensor | None
    h0_all: Tensor
    c0_all: Tensor | None
    real: Tensor | None


def prepare_inputs(module: nn.Module, x: Tensor, lengths: Tensor | None,
                   h0: object) -> PreparedInputs:
    """Validate the arguments both trace paths take, with the same errors."""
    kind = module_kind(module)
    L, D, H = module.num_layers, 2 if module.bidirectional else 1, module.hidden_size
    W_ref = module.weight_ih_l0
    x, unbatched = _check_input(module, x, W_ref)
    B, T, _ = x.shape
    lengths = _check_lengths(lengths, B, T, x.device)
    h0_all, c0_all = _check_initial_state(kind, h0, L * D, B, H, unbatched, W_ref)
    real = None if lengths is None else torch.arange(T, device=x.device) < lengths[:, None]
    return PreparedInputs(kind, L, D, H, x, unbatched, B, T, lengths, h0_all, c0_all, real)


def _run_layer(
    module: nn.Module,
    kind: str,
    k: int,
    D: int,
    layer_input: Tensor,
    lengths: Tensor | None,
    real: Tensor | None,
    h0: Tensor,
    c0: Tensor | None,
) -> tuple[dict[str, Tensor], Tensor, Tensor | None]:
    """Both directions of layer k. Returns ({gate: (D, B, T, H)} in time order, h_n, c_n)."""
    B, T, _ = layer_input.shape
    W_ih, W_hh, b_ih, b_hh = _layer_weights(module, k, D)  # (D, GH, I), (D, GH, H), (D, GH) x2
    GH = W_ih.shape[1]

    if real is not None:
        # Zero the padded steps so that junk there (even NaN) cannot reach any value or gradient.
        layer_input = torch.where(real[:, :, None], layer_input, 0.0)
    # W_ih x_t + b_ih for every step and direction in one matmul: (B, T, D, GH).
    x_proj = torch.addmm(
        b_ih.reshape(D * GH), layer_input.reshape(B * T, -1), W_ih.reshape(D * GH, -1).mT
    ).view(B, T, D, GH)
    by_direction = [x_proj[:, :, 0]]
    if D == 2:
        by_direction.append(reverse_within_lengths(x_proj[:, :, 1], lengths))
    x_proj_steps = torch.stack(by_direction, dim=0).permute(2, 0, 1, 3).contiguous()  # (T,D,B,GH)

    # W_hh laid out so that W_hh.mT inside the cell is contiguous: a faster matmul, same math.
    W_hh = W_hh.mT.contiguous().mT
    b_hh = b_hh[:, None, :]  # (D, 1, GH): broadcasts over the batch
    step = step_function(module, kind, W_hh, b_hh)

    h, c = h0, c0  # (D, B, H)
    steps: list[dict[str, Tensor]] = []
    for x_proj_t in x_proj_steps.unbind(0):  # (D, B, GH)
        out = step(x_proj_t, h, c)
        h, c = out["h"], out.get("c")
        steps.append(out)

    # (D, B, T, H) per gate, still in processing order (the backward direction reversed).
    processed = {name: torch.stack([s[name] for s in steps], dim=2) for name in GATES[kind]}
    if lengths is None:
        h_last, c_last = h, c
    else:
        h_last = state_at_last_real_step(processed["h"], lengths, h0)
        c_last = state_at_last_real_step(processed["c"], lengths, c0) if kind == "lstm" else None

    states = {}
    for name, s in processed.items():
        if D == 2:
            s = torch.stack([s[0], reverse_within_lengths(s[1], lengths)], dim=0)
        if real is not None:
            s = torch.where(real[None, :, :, None], s, 0.0)
        states[name] = s
    return states, h_last, c_last


def step_function(
    module: nn.Module, kind: str, W_hh: Tensor, b_hh: Tensor
) -> Callable[[Tensor, Tensor, Tensor | None], dict[str, Tensor]]:
    """(x_proj_t, h_prev, c_prev) -> gates: the cell of ``kind`` with this layer's W_hh, b_hh."""
    if kind == "lstm":
        return lambda x_proj_t, h, c: lstm_step(None, h, c, None, W_hh, None, b_hh, x_proj=x_proj_t)
    if kind == "gru":
        return lambda x_proj_t, h, c: gru_step(None, h, None, W_hh, None, b_hh, x_proj=x_proj_t)
    rnn = partial(rnn_step, activation=module.nonlinearity)
    return lambda x_proj_t, h, c: rnn(None, h, None, W_hh, None, b_hh, x_proj=x_proj_t)


def _layer_weights(module: nn.Module, k: int, D: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The module's weights of layer k, directions stacked on a leading axis of size D."""
    per_direction = [layer_weights(module, k, d) for d in range(D)]
    W_ih, W_hh, b_ih, b_hh = (torch.stack(ws) for ws in zip(*per_direction, strict=True))
    return W_ih, W_hh, b_ih, b_hh


def reverse_within_lengths(s: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of s (B, T, ...) over its first ``lengths[b]`` steps; padding stays.

    Its own inverse: applied twice it gives s back.
    """
    if lengths is None:
        return s.flip(1)
    B, T = s.shape[:2]
    t = torch.arange(T, device=s.device)
    index = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (B, T)
    index = index.view(B, T, *([1] * (s.dim() - 2))).expand_as(s)
    return s.gather(1, index)


def state_at_last_real_step(s: Tensor, lengths: Tensor, initial: Tensor) -> Tensor:
    """s: (D, B, T, H) in processing order -> (D, B, H) at step lengths[b]-1 (initial if empty)."""
    D, B, _, H = s.shape
    index = (lengths - 1).clamp(min=0).view(1, B, 1, 1).expand(D, B, 1, H)
    last = s.gather(2, index).squeeze(2)
    return torch.where((lengths > 0)[None, :, None], last, initial)


def _check_input(module: nn.Module, x: Tensor, W_ref: Tensor) -> tuple[Tensor, bool]:
    """x as (B, T, I) whatever the module's layout, and whether it came unbatched."""
    if not isinstance(x, Tensor) or x.dim() not in (2, 3):
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise RnnVizError(f"expected x of shape (B, T, I) or (T, B, I), got {shape}", where="x")
    if x.shape[-1] != module.input_size:
        raise RnnVizError(
            f"x has {x.shape[-1]} features but the module expects {module.input_size}", where="x"
        )
    if x.dtype != W_ref.dtype:
        raise RnnVizError(f"x is {x.dtype} but the module's weights are {W_ref.dtype}", where="x")
    unbatched = x.dim() == 2
    if unbatched:
        x = x.unsqueeze(0)
    elif not module.batch_first:
        x = x.transpose(0, 1)
    if x.shape[1] == 0:
        raise RnnVizError("x has no time steps", where="x")
    return x, unbatched


def _check_lengths(lengths: Tensor | None, B: int, T: int, device: torch.device) -> Tensor | None:
    """lengths as a (B,) int64 tensor on x's device; None when every sequence is full."""
    if lengths is None:
        return None
    lengths = torch.as_tensor(lengths)
    integer = not (lengths.dtype.is_floating_point or lengths.dtype.is_complex)
    if not integer or lengths.dtype == torch.bool or lengths.shape != (B,):
        raise RnnVizError(
            f"expected integer lengths of shape ({B},), got {lengths.dtype} {tuple(lengths.shape)}",
            where="lengths",
        )
    lengths = lengths.to(device=device, dtype=torch.int64)
    if bool((lengths < 0).any()) or bool((lengths > T).any()):
        raise RnnVizError(
            f"lengths must lie in 0..{T} (the padded length), got {lengths.tolist()}",
            where="lengths",
        )
    if bool((lengths == T).all()):
        return None  # nothing padded: the plain path is faster and equal
    return lengths


def _check_initial_state(
    kind: str,
    h0: Tensor | tuple[Tensor, Tensor] | None,
    LD: int,
    B: int,
    H: int,
    unbatched: bool,
    W_ref: Tensor,
) -> tuple[Tensor, Tensor | None]:
    """(h0, c0) each (L*D, B, H); zeros where not given, c0 None unless LSTM."""
    if kind == "lstm" and h0 is not None:
        if not (isinstance(h0, tuple | list) and len(h0) == 2):
            raise RnnVizError("an LSTM takes h0 as the pair (h0, c0)", where="h0")
        given = {"h0": h0[0], "c0": h0[1]}
    elif h0 is not None:
        if not isinstance(h0, Tensor):
            raise RnnVizError(f"expected h0 to be a tensor, got {type(h0).__name__}", where="h0")
        given = {"h0": h0}
    else:
        given = {}

    def state(name: str) -> Tensor:
        if name not in given:
            return W_ref.new_zeros(LD, B, H)
        s = given[name]
        if unbatched and isinstance(s, Tensor) and s.dim() == 2:
            s = s.unsqueeze(1)
        if not isinstance(s, Tensor) or tuple(s.shape) != (LD, B, H):
            shape = tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__
            raise RnnVizError(f"expected {name} of shape {(LD, B, H)}, got {shape}", where=name)
        return s.to(W_ref.dtype)

    return state("h0"), state("c0") if kind == "lstm" else None


__all__ = ["DIRECTIONS", "LayerTrace", "ModuleTrace", "PreparedInputs", "module_kind",
           "prepare_inputs", "reverse_within_lengths", "state_at_last_real_step",
           "step_function", "trace_module"]
