"""The trace of ``rnnviz.core.trace`` without its Python loop over time: torch's own kernels compute
every h_t, then the step functions of ``rnnviz.core.cells`` recompute every gate for all t at once.

Why this gives the same gates: at step t every gate depends only on x_t and h_{t-1} (and, for
the LSTM, c_{t-1} enters only through c_t = f_t * c_{t-1} + i_t * g_t). So once the sequence
h_0..h_T of a layer is known, the gates of all T steps are ONE call of ``rnn_step`` /
``lstm_step`` / ``gru_step`` with time folded into the batch: x_t as (T*B, I) rows and h_{t-1} as
h shifted by one step (h0 first). Only the LSTM's cell state is left to a loop over time, and
that loop is one multiply-add per step for every layer and direction together.

To get every layer's h_t (torch's module returns only the last layer's), each layer and
direction runs as a one-layer, one-direction call of the ATen op that ``nn.LSTM`` / ``nn.GRU`` /
``nn.RNN`` call (``torch.lstm``, ``torch.gru``, ``torch.rnn_tanh``, ``torch.rnn_relu``), with
the module's own Parameters. The trace's h_t is that kernel's h_t: the very values the next
layer and the next step read. Padding follows ``rnnviz.core.trace``: padded inputs are zeroed
and the backward direction reads each sequence reversed within its own length, so padding comes
after the real tokens and never reaches them (what a packed sequence gives).

``fast_trace_module`` returns what ``trace_module`` returns, within float rounding
(tests/test_fasttrace.py checks every gate against it); ``trace_module`` stays the readable
reference the pages show. Both are differentiable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnviz.core.cells import GATES, layer_weights
from rnnviz.core.trace import (
    DIRECTIONS,
    LayerTrace,
    ModuleTrace,
    prepare_inputs,
    reverse_within_lengths,
    state_at_last_real_step,
    step_function,
)

# The ATen op behind each module; all take (x, hx, flat weights, has_biases, num_layers,
# dropout, train, bidirectional, batch_first), as nn.RNNBase calls them.
_NATIVE: dict[str, Callable[..., tuple[Tensor, ...]]] = {
    "lstm": torch.lstm,
    "gru": torch.gru,
    "tanh": torch.rnn_tanh,
    "relu": torch.rnn_relu,
}


@dataclass
class NativeLayers:
    """A module run by torch's kernels one layer and direction at a time: every layer's h_t.

    Processing order: the backward direction reversed within each sequence's length, so that
    its padding too comes after its real tokens.
    """

    kind: str
    inputs: list[Tensor]  # [k]: the layer's input (B, T, I_k) in time order, padding zeroed
    hidden: list[list[Tensor]]  # [k][d]: h_t, (B, T, H) in processing order
    h0: Tensor  # (L*D, B, H)
    c0: Tensor | None  # (L*D, B, H), LSTM only
    lengths: Tensor | None  # (B,); None when nothing is padded
    real: Tensor | None  # (B, T) True on real tokens; None when nothing is padded
    unbatched: bool
    output: Tensor  # like module(x)[0]
    h_n: Tensor  # like module(x)[1] (the h of an LSTM's pair)


def run_native_layers(
    module: nn.RNN | nn.LSTM | nn.GRU,
    x: Tensor,
    lengths: Tensor | None = None,
    h0: Tensor | tuple[Tensor, Tensor] | None = None,
) -> NativeLayers:
    """Run ``module`` on ``x`` with torch's kernels, keeping the h_t of every layer.

    Arguments as for ``trace_module``. output and h_n equal the module's; differentiable.
    """
    p = prepare_inputs(module, x, lengths, h0)
    kind, L, D, x, unbatched = p.kind, p.L, p.D, p.x, p.unbatched
    lengths, h0_all, c0_all, real = p.lengths, p.h0_all, p.c0_all, p.real
    op = _NATIVE[module.nonlinearity if kind == "rnn" else kind]

    inputs: list[Tensor] = []
    hidden: list[list[Tensor]] = []
    h_n: list[Tensor] = []
    layer_input = x  # (B, T, I) for layer 0, (B, T, D*H) above it
    for k in range(L):
        if real is not None:
            # Zero the padded steps: junk there (even NaN) cannot reach any value or gradient.
            layer_input = torch.where(real[:, :, None], layer_input, 0.0)
        inputs.append(layer_input)
        hidden.append([])
        for d in range(D):
            row = k * D + d
            x_d = layer_input if d == 0 else reverse_within_lengths(layer_input, lengths)
            h0_d = h0_all[row : row + 1]  # (1, B, H): one layer, one direction
            hx = h0_d if kind != "lstm" else (h0_d, c0_all[row : row + 1])
            weights = _flat_weights(module, k, d)
            h_d = op(x_d, hx, weights, module.bias, 1, 0.0, False, False, True)[0]  # (B, T, H)
            hidden[k].append(h_d)
            h_n.append(_last_state(h_d, lengths, h0_all[row]))
        layer_input = torch.cat(_time_order(hidden[k], lengths), dim=-1)  # (B, T, D*H)
    output = layer_input if real is None else torch.where(real[:, :, None], layer_input, 0.0)

    h_n_t = torch.stack(h_n)  # (L*D, B, H)
    if unbatched:
        output, h_n_t = output[0], h_n_t[:, 0]
    elif not module.batch_first:
        output = output.transpose(0, 1)
    return NativeLayers(kind=kind, inputs=inputs, hidden=hidden, h0=h0_all, c0=c0_all,
                        lengths=lengths, real=real, unbatched=unbatched, output=output, h_n=h_n_t)


def replay_gates(module: nn.RNN | nn.LSTM | nn.GRU, native: NativeLayers) -> ModuleTrace:
    """Every gate at every step from the h_t of ``native``, through the step functions.

    ``native`` must come from ``run_native_layers(module, ...)`` with this same module.
    """
    kind = native.kind
    lengths, real = native.lengths, native.real

    D = len(native.hidden[0])
    processed: list[dict[str, Tensor]] = []  # per layer and direction: gate -> (B, T, H)
    for k, (layer_input, hidden_k) in enumerate(zip(native.inputs, native.hidden, strict=True)):
        B, T, _ = layer_input.shape
        # W_ih x_t + b_ih for every step and direction with the very op trace_module uses, so
        # the input's share is bitwise the reference's; only the recurrent share can differ
        # (by rounding: h_{t-1} comes from torch's kernel). (B, T, D, GH).
        W_ih, b_ih = _input_weights(module, k, D)  # (D*GH, I), (D*GH,)
        GH = W_ih.shape[0] // D
        x_proj_k = torch.addmm(b_ih, layer_input.reshape(B * T, -1), W_ih.mT).view(B, T, D, GH)
        for d, h_d in enumerate(hidden_k):
            H = h_d.shape[-1]
            x_proj = x_proj_k[:, :, d]
            if d == 1:
                x_proj = reverse_within_lengths(x_proj, lengths)  # (B, T, GH) processing order
            # h_{t-1} for every t: h shifted one step later, the initial state first.
            h0_d = native.h0[k * D + d]  # (B, H)
            h_prev = torch.cat([h0_d[:, None], h_d[:, :-1]], dim=1)  # (B, T, H)
            # One call of the cell for all T steps: time folded into the batch, (B*T, ...).
            # For the LSTM, c_{t-1} = 0 here makes the cell's c_t = f_t * 0 + i_t * g_t:
            # exactly the input's share of the cell state, which the scan below adds up.
            _, W_hh, _, b_hh = layer_weights(module, k, d)
            step = step_function(module, kind, W_hh, b_hh)
            c_zero = h_prev.new_zeros(B * T, H) if kind == "lstm" else None
            out = step(x_proj.reshape(B * T, GH), h_prev.reshape(B * T, H), c_zero)
            gates = {name: out[name].view(B, T, H) for name in GATES[kind]}
            gates["h"] = h_d  # the kernel's own h_t: the one the next layer and step read
            processed.append(gates)

    c_n = None
    if kind == "lstm":
        c_all = _cell_state_scan([g["f"] for g in processed], [g["c"] for g in processed],
                                 native.c0)
        c_n_rows = []
        for row, gates in enumerate(processed):
            gates["c"] = c_all[row]
            c_n_rows.append(_last_state(c_all[row], lengths, native.c0[row]))
        c_n = torch.stack(c_n_rows)  # (L*D, B, H)
        if native.unbatched:
            c_n = c_n[:, 0]

    layers: list[LayerTrace] = []
    for row, gates in enumerate(processed):
        k, d = divmod(row, D)
        states = {}
        for name in GATES[kind]:
            s = gates[name]
            if d == 1:
                s = reverse_within_lengths(s, lengths)
            if real is not None:
                s = torch.where(real[:, :, None], s, 0.0)
            states[name] = s
        layers.append(LayerTrace(layer=k, direction=DIRECTIONS[d], kind=kind, states=states))
    return ModuleTrace(kind=kind, layers=layers, output=native.output, h_n=native.h_n, c_n=c_n)


def fast_trace_module(
    module: nn.RNN | nn.LSTM | nn.GRU,
    x: Tensor,
    lengths: Tensor | None = None,
    h0: Tensor | tuple[Tensor, Tensor] | None = None,
) -> ModuleTrace:
    """What ``trace_module(module, x, lengths, h0)`` returns, computed without its loop over time.

    Same arguments, same checks and errors, same ModuleTrace (gates zero at padded steps).
    """
    return replay_gates(module, run_native_layers(module, x, lengths, h0))


def _cell_state_scan(f: list[Tensor], u: list[Tensor], c0: Tensor) -> list[Tensor]:
    """c_t = f_t * c_{t-1} + u_t for t = 1..T, every row together; f[n], u[n]: (B, T, H),
    c0: (N, B, H). Returns c per row, (B, T, H).

    u_t = i_t * g_t. A loop, not a cumulative product: prod f_t underflows over long texts, and
    dividing by it would turn rounding into infinities.
    """
    # (T, N, B, H), contiguous: each step reads one dense block.
    f_steps = torch.stack([f_n.transpose(0, 1) for f_n in f], dim=1).unbind(0)
    u_steps = torch.stack([u_n.transpose(0, 1) for u_n in u], dim=1).unbind(0)
    c = c0
    cells = []
    for f_t, u_t in zip(f_steps, u_steps, strict=True):
        c = torch.addcmul(u_t, f_t, c)
        cells.append(c)
    return torch.stack(cells, dim=2).unbind(0)  # N x (B, T, H)


def _last_state(s: Tensor, lengths: Tensor | None, initial: Tensor) -> Tensor:
    """s: (B, T, H) in processing order -> (B, H) at each sequence's last real step."""
    if lengths is None:
        return s[:, -1]
    return state_at_last_real_step(s[None], lengths, initial[None])[0]


def _time_order(per_direction: list[Tensor], lengths: Tensor | None) -> list[Tensor]:
    """Each direction's (B, T, H) in time order (the backward one un-reversed)."""
    if len(per_direction) == 1:
        return per_direction
    return [per_direction[0], reverse_within_lengths(per_direction[1], lengths)]


def _flat_weights(module: nn.Module, k: int, d: int) -> list[Tensor]:
    """Layer k, direction d's Parameters in the order torch's ops take them."""
    W_ih, W_hh, b_ih, b_hh = layer_weights(module, k, d)
    return [W_ih, W_hh, b_ih, b_hh] if module.bias else [W_ih, W_hh]


def _input_weights(module: nn.Module, k: int, D: int) -> tuple[Tensor, Tensor]:
    """W_ih (D*GH, I) and b_ih (D*GH,) of layer k, the directions stacked as trace_module stacks
    them (zero biases when bias=False). Only these are copied: W_hh is used per direction."""
    per_direction = [layer_weights(module, k, d) for d in range(D)]
    if D == 1:
        return per_direction[0][0], per_direction[0][2]
    return torch.cat([w[0] for w in per_direction]), torch.cat([w[2] for w in per_direction])


__all__ = ["NativeLayers", "fast_trace_module", "replay_gates", "run_native_layers"]
