"""What the LSTM / GRU and bidirectional pages compute: a seeded demo network over the
characters of a typed text, gate views, parameter counts, the cell-path gain, and forward vs
backward states.

A ``GateView`` is one layer and one direction of gates as numpy arrays (T, H) with the tokens
they belong to; it comes from either ``rnnviz.core.trace`` on the demo network or from a shipped
classifier's prediction, so the figures draw both the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnviz.core.cells import GATES, param_count
from rnnviz.core.trace import ModuleTrace, trace_module
from rnnviz.errors import RnnVizError
from rnnviz.i18n import pick

DEMO_BUCKETS = 4096  # characters hash into this many embedding rows (by code point)
DEMO_EMBED = 16
DEMO_HIDDEN = 24
DEMO_MAX_CHARS = 60
SIGMOID_GATES = {"i", "f", "o", "r", "z"}  # values in (0, 1); the rest lie in (-1, 1) or beyond
KIND_NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

# The equations the LSTM/GRU page shows, in the order of rnnviz.core.cells (torch's gate order).
CELL_EQUATIONS = {
    "lstm": (
        r"i_t=\sigma(W_{ii}x_t+W_{hi}h_{t-1}+b_i)", r"f_t=\sigma(W_{if}x_t+W_{hf}h_{t-1}+b_f)",
        r"g_t=\tanh(W_{ig}x_t+W_{hg}h_{t-1}+b_g)", r"o_t=\sigma(W_{io}x_t+W_{ho}h_{t-1}+b_o)",
        r"c_t=f_t\odot c_{t-1}+i_t\odot g_t", r"h_t=o_t\odot\tanh(c_t)",
    ),
    "gru": (
        r"r_t=\sigma(W_{ir}x_t+W_{hr}h_{t-1}+b_r)", r"z_t=\sigma(W_{iz}x_t+W_{hz}h_{t-1}+b_z)",
        r"n_t=\tanh(W_{in}x_t+b_{in}+r_t\odot(W_{hn}h_{t-1}+b_{hn}))",
        r"h_t=(1-z_t)\odot n_t+z_t\odot h_{t-1}",
    ),
}

# News titles in the style of THUCNews (the classifiers' data) to trace.
EXAMPLE_TEXTS = (
    "中国男篮击败韩国队晋级亚洲杯决赛",
    "央行宣布下调存款准备金率0.5个百分点",
    "新款手机发布搭载自研芯片续航提升",
    "高考成绩今日公布考生可登录查询",
)
# (sentence with a blank, the word that fills it): only the right context gives it away.
FILL_BLANK_EXAMPLES = (
    ("我肚子疼得厉害，所以去＿＿挂号看病。", "医院"),
    ("他把车开进＿＿，加满了九十五号汽油。", "加油站"),
    ("I felt sick, so I went to the ___ to see a doctor.", "hospital"),
)


@dataclass
class DemoNetwork:
    """A character embedding and one recurrent module, both seeded (untrained)."""

    embedding: nn.Embedding
    rnn: nn.RNNBase
    kind: str

    def encode(self, text: str) -> tuple[list[str], torch.Tensor]:
        """Tokens (the characters, blanks dropped, at most DEMO_MAX_CHARS) and x (1, T, E)."""
        tokens = demo_tokens(text)
        ids = torch.tensor([[ord(ch) % DEMO_BUCKETS for ch in tokens]])
        with torch.no_grad():
            return tokens, self.embedding(ids)


def demo_tokens(text: str) -> list[str]:
    tokens = [ch for ch in text if not ch.isspace()][:DEMO_MAX_CHARS]
    if not tokens:
        raise RnnVizError("type at least one character", where="text")
    return tokens


def demo_network(kind: str = "lstm", bidirectional: bool = False, seed: int = 0,
                 gate_bias: float = 0.0, embed_dim: int = DEMO_EMBED,
                 hidden_size: int = DEMO_HIDDEN) -> DemoNetwork:
    """The demo network: the same seed gives the same weights in every session.

    ``gate_bias`` is added to the bias of the gate that keeps memory (LSTM forget gate f,
    GRU update gate z), to show what a trained network's open gates do.
    """
    if kind not in KIND_NAMES:
        raise RnnVizError(f"unknown cell kind {kind!r}", where="kind")
    g = torch.Generator().manual_seed(seed)
    embedding = nn.Embedding(DEMO_BUCKETS, embed_dim)
    rnn = _MODULES[kind](embed_dim, hidden_size, batch_first=True, bidirectional=bidirectional)
    H = hidden_size
    with torch.no_grad():  # torch's default init ranges, drawn from a local generator
        embedding.weight.normal_(generator=g)
        for p in rnn.parameters():
            p.uniform_(-(H**-0.5), H**-0.5, generator=g)
        if kind != "rnn" and gate_bias:
            for name, p in rnn.named_parameters():
                if name.startswith("bias_ih"):
                    p[H:2 * H] += gate_bias  # chunk 1: f in (i, f, g, o), z in (r, z, n)
    return DemoNetwork(embedding.eval(), rnn.eval(), kind)


def concat_matches_module(network: DemoNetwork, text: str) -> float:
    """max |[h→_t ; h←_t] (from the step-by-step trace) − nn module output|: 0 up to rounding."""
    tokens, x = network.encode(text)
    with torch.inference_mode():
        out, _ = network.rnn(x)
        trace = trace_module(network.rnn, x)
    concat = concat_directions(views_from_trace(trace, tokens))
    return float(np.abs(concat - out[0].numpy()).max())


def trace_text(network: DemoNetwork, text: str) -> tuple[list[str], ModuleTrace]:
    """The typed text through the demo network, every gate kept."""
    tokens, x = network.encode(text)
    with torch.inference_mode():
        return tokens, trace_module(network.rnn, x)


@dataclass
class GateView:
    """One layer and direction: gate name -> (T, H) array, with its tokens."""

    tokens: list[str]
    kind: str
    layer: int
    direction: str
    states: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        T = len(self.tokens)
        for name, s in self.states.items():
            if s.ndim != 2 or s.shape[0] != T:
                raise RnnVizError(f"gate {name!r} has shape {s.shape}, expected ({T}, H)",
                                  where="states")

    @property
    def hidden_size(self) -> int:
        return next(iter(self.states.values())).shape[1]


def views_from_trace(trace: ModuleTrace, tokens: Sequence[str], batch_index: int = 0) -> list[GateView]:
    """Every layer/direction of a ModuleTrace for one sequence of the batch."""
    return [
        GateView(list(tokens), t.kind, t.layer, t.direction,
                 {k: v[batch_index].detach().float().cpu().numpy() for k, v in t.states.items()})
        for t in trace.layers
    ]


def views_from_prediction(prediction: Any) -> list[GateView]:
    """Views from a shipped predictor's Prediction (``.tokens``; ``.layers`` each with
    ``.layer``, ``.direction``, ``.kind``, ``.states`` {gate: (T, H) array})."""
    tokens = list(prediction.tokens)
    return [GateView(tokens, t.kind, int(t.layer), t.direction,
                     {k: np.asarray(v, dtype=np.float32) for k, v in t.states.items()})
            for t in prediction.layers]


def pick_view(views: Iterable[GateView], layer: int = 0, direction: str = "forward") -> GateView:
    for v in views:
        if v.layer == layer and v.direction == direction:
            return v
    raise RnnVizError(f"no layer {layer} {direction} among the traced layers", where="layer")


def unit_means(view: GateView, gates: Sequence[str] | None = None) -> np.ndarray:
    """(G, T): each gate's mean over the hidden units at each token."""
    gates = list(gates or GATES[view.kind])
    return np.stack([view.states[g].mean(axis=1) for g in gates])


def gate_summary(view: GateView, lang: str = "zh") -> list[dict[str, object]]:
    """Per gate: mean, min, max over tokens and units, and for sigmoid gates the share of
    values that are nearly shut (< 0.1) or nearly open (> 0.9)."""
    rows = []
    for g in GATES[view.kind]:
        s = view.states[g]
        row: dict[str, object] = {
            pick(lang, "门", "gate"): g,
            pick(lang, "均值", "mean"): round(float(s.mean()), 3),
            pick(lang, "最小", "min"): round(float(s.min()), 3),
            pick(lang, "最大", "max"): round(float(s.max()), 3),
        }
        if g in SIGMOID_GATES:
            row[pick(lang, "近关 <0.1", "nearly shut <0.1")] = f"{float((s < 0.1).mean()):.0%}"
            row[pick(lang, "近开 >0.9", "nearly open >0.9")] = f"{float((s > 0.9).mean()):.0%}"
        else:
            row[pick(lang, "近关 <0.1", "nearly shut <0.1")] = "—"
            row[pick(lang, "近开 >0.9", "nearly open >0.9")] = "—"
        rows.append(row)
    return rows


def cell_path_gain(keep: np.ndarray) -> np.ndarray:
    """(T, H) keep gates -> (T, H): G[t] = prod_{s>t} keep_s.

    For an LSTM keep = f: c_s = f_s c_{s-1} + i_s g_s, so along the cell path alone (gates
    held fixed) dc_s/dc_{s-1} = diag(f_s) and G[t] is how much of c_t reaches c_{T-1}. For a
    GRU keep = z: h_s = z_s h_{s-1} + (1 - z_s) n_s gives the direct-path factor diag(z_s).
    """
    keep = np.asarray(keep, dtype=np.float64)
    gain = np.ones_like(keep)
    for t in range(keep.shape[0] - 2, -1, -1):
        gain[t] = gain[t + 1] * keep[t + 1]
    return gain


def param_table(input_size: int, hidden_size: int, lang: str = "zh") -> list[dict[str, object]]:
    """One layer, one direction: parameters of RNN, GRU and LSTM and their ratio to the RNN."""
    base = param_count("rnn", input_size, hidden_size)
    formula = {"rnn": "H·I + H·H + 2H", "gru": "3 (H·I + H·H + 2H)", "lstm": "4 (H·I + H·H + 2H)"}
    return [
        {
            pick(lang, "单元", "cell"): KIND_NAMES[k],
            pick(lang, "公式", "formula"): formula[k],
            pick(lang, "参数量", "parameters"): param_count(k, input_size, hidden_size),
            pick(lang, "相对 RNN", "× RNN"): f"{param_count(k, input_size, hidden_size) / base:g}×",
            pick(lang, "torch 模块实数", "torch module numel"): torch_param_count(k, input_size, hidden_size),
        }
        for k in ("rnn", "gru", "lstm")
    ]


def torch_param_count(kind: str, input_size: int, hidden_size: int) -> int:
    """Parameters of a one-layer torch module of ``kind``, counted (the check on param_count)."""
    if max(input_size, hidden_size) > 4096:
        raise RnnVizError("sizes above 4096 are not counted here", where="hidden_size")
    module = _MODULES[kind](input_size, hidden_size, device="meta")  # shapes only, no memory
    return sum(p.numel() for p in module.parameters())


def forward_backward(views: Iterable[GateView], layer: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(T, H) forward and backward hidden states of one bidirectional layer."""
    views = list(views)
    return pick_view(views, layer, "forward").states["h"], pick_view(views, layer, "backward").states["h"]


def concat_directions(views: Iterable[GateView], layer: int = 0) -> np.ndarray:
    """(T, 2H): [h_fwd_t ; h_bwd_t], what nn.LSTM(bidirectional=True) outputs at each t."""
    fwd, bwd = forward_backward(views, layer)
    return np.concatenate([fwd, bwd], axis=1)


def state_norms(states: np.ndarray) -> np.ndarray:
    """(T, H) -> (T,): the L2 norm of each token's state."""
    return np.linalg.norm(np.asarray(states, dtype=np.float64), axis=1)


def direction_weight_difference(rnn: nn.RNNBase, layer: int = 0,
                                lang: str = "zh") -> list[dict[str, object]]:
    """Frobenius norms of each forward weight, its ``_reverse`` twin, and their difference:
    the two directions are separate parameters (a difference of 0 would mean shared)."""
    if not rnn.bidirectional:
        raise RnnVizError("the module is not bidirectional", where="rnn")
    rows = []
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        fwd = getattr(rnn, f"{name}_l{layer}").detach()
        bwd = getattr(rnn, f"{name}_l{layer}_reverse").detach()
        rows.append({
            pick(lang, "参数", "parameter"): f"{name}_l{layer}",
            pick(lang, "形状", "shape"): "×".join(map(str, fwd.shape)),
            "‖fwd‖_F": round(float(torch.linalg.norm(fwd)), 4),
            "‖bwd‖_F": round(float(torch.linalg.norm(bwd)), 4),
            "‖fwd − bwd‖_F": round(float(torch.linalg.norm(fwd - bwd)), 4),
        })
    return rows


def direction_param_counts(rnn: nn.RNNBase, lang: str = "zh") -> dict[str, int]:
    """Layer 0: parameters of one direction (closed form) and of the whole module (counted)."""
    kind = {m: k for k, m in _MODULES.items()}[type(rnn)]
    one = param_count(kind, rnn.input_size, rnn.hidden_size)
    return {
        pick(lang, "每个方向（第 0 层）", "per direction (layer 0)"): one,
        pick(lang, "两个方向合计（第 0 层）", "both directions (layer 0)"): 2 * one,
        pick(lang, "模块全部参数", "whole module"): sum(p.numel() for p in rnn.parameters()),
    }


def context_split(tokens: Sequence[str], t: int) -> tuple[str, str]:
    """What each direction has read when it reaches token t: forward x_0..x_t, backward x_t..x_{T-1}.

    Words (tokens longer than one character) are joined with spaces, characters without.
    """
    if not 0 <= t < len(tokens):
        raise RnnVizError(f"position {t} is outside 0..{len(tokens) - 1}", where="position")
    sep = " " if any(len(tok) > 1 for tok in tokens) else ""
    return sep.join(tokens[: t + 1]), sep.join(tokens[t:])


BLANK_MARKS = ("＿", "_")


def sentence_tokens(sentence: str) -> list[str]:
    """Words for a sentence written with spaces (English), else its characters (Chinese)."""
    return sentence.split() if " " in sentence.strip() else demo_tokens(sentence)


def blank_index(tokens: Sequence[str]) -> int:
    """Position of the first blank (a token made of ＿ or _ only) in the tokens."""
    for t, tok in enumerate(tokens):
        if tok and set(tok) <= set(BLANK_MARKS):
            return t
    raise RnnVizError("the sentence has no blank (write ＿ or _ where the word goes)", where="text")
