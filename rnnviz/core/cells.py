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
from torch import Tensor, nn

from rnnviz.content import Text
from rnnviz.core.config import CELLS
from rnnviz.errors import RnnVizError

KINDS = CELLS
# The torch.nn module that runs each kind's step over a whole sequence (what trace.py replays).
NN_MODULES: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
ACTIVATIONS = ("tanh", "relu", "sigmoid")

# The tensors each step returns, in the order a page draws them.
GATES: dict[str, tuple[str, ...]] = {
    "rnn": ("a", "h"),
    "lstm": ("i", "f", "g", "o", "c", "h"),
    "gru": ("r", "z", "n", "h"),
}

# Gates stacked in W_ih / W_hh (G in the shapes above).
NUM_GATES = {"rnn": 1, "lstm": 4, "gru": 3}

# The symbol of each gate in the equations; its name in each language is in
# content/<lang>/core/cells.md under "<kind>.<gate>".
GATE_LABELS: dict[str, dict[str, str]] = {
    "rnn": {"a": "a_t", "h": "h_t"},
    "lstm": {"i": "i_t", "f": "f_t", "g": "g_t", "o": "o_t", "c": "c_t", "h": "h_t"},
    "gru": {"r": "r_t", "z": "z_t", "n": "n_t", "h": "h_t"},
}
_T = Text("core/cells")


def gate_label(kind: str, gate: str, lang: str = "zh") -> str:
    """The label of one gate in ``lang``, e.g. gate_label("lstm", "f") == "遗忘门 f_t"."""
    try:
        symbol = GATE_LABELS[kind][gate]
    except KeyError:
        raise RnnVizError(f"unknown gate {gate!r} for cell kind {kind!r}") from None
    return _T(lang, f"{kind}.{gate}", symbol=symbol)


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


def layer_weights(module: nn.RNNBase, layer: int,
                  direction: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """W_ih, W_hh, b_ih, b_hh of one layer and direction (0 forward, 1 backward) of an
    ``nn.RNN``/``nn.LSTM``/``nn.GRU``: the module's own Parameters, in the layout the steps
    above take. A module built with bias=False gets zero biases (the same equations)."""
    suffix = "_reverse" if direction else ""
    W_ih = getattr(module, f"weight_ih_l{layer}{suffix}")
    W_hh = getattr(module, f"weight_hh_l{layer}{suffix}")
    if not module.bias:
        return W_ih, W_hh, W_ih.new_zeros(W_ih.shape[0]), W_hh.new_zeros(W_hh.shape[0])
    return (W_ih, W_hh, getattr(module, f"bias_ih_l{layer}{suffix}"),
            getattr(module, f"bias_hh_l{layer}{suffix}"))
