"""The recurrent cells written out gate by gate: one time step of RNN, LSTM and GRU.

Each step function follows its equations line by line and returns every intermediate it
computes (each (B, H)), so a page can draw every gate. Weights use PyTorch's layout, so a
trained ``nn.RNN``/``nn.LSTM``/``nn.GRU`` plugs straight in (``rnnviz.core.trace`` does that):

    W_ih: (G*H, I)   W_hh: (G*H, H)   b_ih, b_hh: (G*H,)

with G gates stacked in torch's order: RNN 1, LSTM 4 (i, f, g, o), GRU 3 (r, z, n).

Every step also accepts ``x_proj`` = W_ih x_t + b_ih computed in advance: the input's share
does not depend on h_{t-1}, so ``rnnviz.core.trace`` computes it for all time steps in one matmul
and loops over time only for the recurrent part. Weights may carry a leading direction axis,
(D, G*H, H) with states (D, B, H), which lets the trace run both directions in one loop.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnviz.errors import RnnVizError
from rnnviz.i18n import pick

KINDS = ("rnn", "lstm", "gru")
ACTIVATIONS = ("tanh", "relu", "sigmoid")

# The tensors each step returns, in the order a page draws them.
GATES: dict[str, tuple[str, ...]] = {
    "rnn": ("a", "h"),
    "lstm": ("i", "f", "g", "o", "c", "h"),
    "gru": ("r", "z", "n", "h"),
}

# Gates stacked in W_ih / W_hh (G in the shapes above).
NUM_GATES = {"rnn": 1, "lstm": 4, "gru": 3}

# (Chinese, English) label of each gate, with the symbol the equations use.
GATE_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "rnn": {
        "a": ("预激活 a_t", "pre-activation a_t"),
        "h": ("隐藏状态 h_t", "hidden state h_t"),
    },
    "lstm": {
        "i": ("输入门 i_t", "input gate i_t"),
        "f": ("遗忘门 f_t", "forget gate f_t"),
        "g": ("候选记忆 g_t", "candidate cell g_t"),
        "o": ("输出门 o_t", "output gate o_t"),
        "c": ("细胞状态 c_t", "cell state c_t"),
        "h": ("隐藏状态 h_t", "hidden state h_t"),
    },
    "gru": {
        "r": ("重置门 r_t", "reset gate r_t"),
        "z": ("更新门 z_t", "update gate z_t"),
        "n": ("候选隐藏状态 n_t", "candidate hidden n_t"),
        "h": ("隐藏状态 h_t", "hidden state h_t"),
    },
}


def gate_label(kind: str, gate: str, lang: str = "zh") -> str:
    """The label of one gate in ``lang``, e.g. gate_label("lstm", "f") == "遗忘门 f_t"."""
    try:
        zh, en = GATE_LABELS[kind][gate]
    except KeyError:
        raise RnnVizError(f"unknown gate {gate!r} for cell kind {kind!r}") from None
    return pick(lang, zh, en)


def param_count(kind: str, input_size: int, hidden_size: int) -> int:
    """Parameters of one layer and one direction, both biases included.

    G * (H*I + H*H + 2H): W_ih, W_hh, b_ih and b_hh for each of the G gates.
    """
    if kind not in NUM_GATES:
        raise RnnVizError(f"unknown cell kind {kind!r}; choose one of {', '.join(KINDS)}")
    if input_size < 1 or hidden_size < 1:
        raise RnnVizError(
            f"sizes must be positive, got input_size={input_size}, hidden_size={hidden_size}"
        )
    G, I, H = NUM_GATES[kind], input_size, hidden_size  # noqa: E741 (I is the math's name)
    return G * (H * I + H * H + 2 * H)


def rnn_step(
    x_t: Tensor | None,
    h_prev: Tensor,
    W_ih: Tensor | None,
    W_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor,
    activation: str = "tanh",
    *,
    x_proj: Tensor | None = None,
) -> dict[str, Tensor]:
    r"""One step of the plain (Elman) RNN.

        a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
        h_t = tanh(a_t)            (or relu(a_t); sigmoid(a_t) for teaching only)

    LaTeX: a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh},\quad h_t = \tanh(a_t)

    x_t: (B, I), h_prev: (B, H). Returns {"a": a_t, "h": h_t}, each (B, H).
    torch's nn.RNN offers only tanh and relu.
    """
    if activation not in ACTIVATIONS:
        raise RnnVizError(
            f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}",
            where="activation",
        )
    # W_ih x_t + b_ih: the input's share (rnnviz.core.trace passes it precomputed for all t).
    # Tensors are batched rows, so W x is written x @ W.mT (.mT: transpose the last two axes).
    if x_proj is None:
        x_proj = x_t @ W_ih.mT + b_ih
    a_t = x_proj + h_prev @ W_hh.mT + b_hh
    if activation == "tanh":
        h_t = torch.tanh(a_t)
    elif activation == "relu":
        h_t = torch.relu(a_t)
    else:
        h_t = torch.sigmoid(a_t)
    return {"a": a_t, "h": h_t}


def lstm_step(
    x_t: Tensor | None,
    h_prev: Tensor,
    c_prev: Tensor,
    W_ih: Tensor | None,
    W_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor,
    *,
    x_proj: Tensor | None = None,
) -> dict[str, Tensor]:
    r"""One step of the LSTM (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000).

        i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)     input gate
        f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)     forget gate
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)        candidate cell
        o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)     output gate
        c_t = f_t * c_{t-1} + i_t * g_t                          cell state
        h_t = o_t * tanh(c_t)                                    hidden state

    LaTeX: c_t = f_t \odot c_{t-1} + i_t \odot g_t,\quad h_t = o_t \odot \tanh(c_t)

    x_t: (B, I), h_prev and c_prev: (B, H); W_ih stacks [W_ii; W_if; W_ig; W_io].
    Returns {"i", "f", "g", "o", "c", "h"}, each (B, H).
    """
    # W_ih x_t + b_ih: the input's share (rnnviz.core.trace passes it precomputed for all t).
    # Tensors are batched rows, so W x is written x @ W.mT (.mT: transpose the last two axes).
    if x_proj is None:
        x_proj = x_t @ W_ih.mT + b_ih
    gates = x_proj + h_prev @ W_hh.mT + b_hh  # (B, 4H): all four gates in one matmul
    i_pre, f_pre, g_pre, o_pre = gates.chunk(4, dim=-1)
    i_t = torch.sigmoid(i_pre)
    f_t = torch.sigmoid(f_pre)
    g_t = torch.tanh(g_pre)
    o_t = torch.sigmoid(o_pre)
    c_t = f_t * c_prev + i_t * g_t
    h_t = o_t * torch.tanh(c_t)
    return {"i": i_t, "f": f_t, "g": g_t, "o": o_t, "c": c_t, "h": h_t}


def gru_step(
    x_t: Tensor | None,
    h_prev: Tensor,
    W_ih: Tensor | None,
    W_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor,
    *,
    x_proj: Tensor | None = None,
) -> dict[str, Tensor]:
    r"""One step of the GRU (Cho et al. 2014), exactly as torch's nn.GRU computes it.

        r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)            reset gate
        z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)            update gate
        n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))       candidate hidden
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}                           hidden state

    LaTeX: n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})),\quad
           h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    x_t: (B, I), h_prev: (B, H); W_ih stacks [W_ir; W_iz; W_in].
    Returns {"r", "z", "n", "h"}, each (B, H).
    """
    # W_ih x_t + b_ih: the input's share (rnnviz.core.trace passes it precomputed for all t).
    # Tensors are batched rows, so W x is written x @ W.mT (.mT: transpose the last two axes).
    if x_proj is None:
        x_proj = x_t @ W_ih.mT + b_ih
    # The input and hidden shares stay apart: r_t scales only the hidden share of n_t.
    ih_r, ih_z, ih_n = x_proj.chunk(3, dim=-1)  # W_ir x_t + b_ir, W_iz x_t + b_iz, W_in x_t + b_in
    hh_r, hh_z, hh_n = (h_prev @ W_hh.mT + b_hh).chunk(3, dim=-1)  # W_hr h_{t-1} + b_hr, ...
    r_t = torch.sigmoid(ih_r + hh_r)
    z_t = torch.sigmoid(ih_z + hh_z)
    n_t = torch.tanh(ih_n + r_t * hh_n)
    h_t = (1 - z_t) * n_t + z_t * h_prev
    return {"r": r_t, "z": z_t, "n": n_t, "h": h_t}
