"""What the LSTM / GRU and bidirectional pages compute: a seeded demo network over the
characters of a typed text, gate views, parameter counts and the cell-path gain (the
bidirectional page's own computations are in ``rnnviz.lessons.bidirectional``).

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

from rnnviz.content import Text
from rnnviz.core.cells import GATES, NN_MODULES, param_count
from rnnviz.core.config import CELL_NAMES
from rnnviz.core.trace import ModuleTrace, trace_module
from rnnviz.errors import RnnVizError

DEMO_BUCKETS = 4096  # characters hash into this many embedding rows (by code point)
DEMO_EMBED = 16
DEMO_HIDDEN = 24
DEMO_MAX_CHARS = 60
SIGMOID_GATES = {"i", "f", "o", "r", "z"}  # values in (0, 1); the rest lie in (-1, 1) or beyond
KIND_NAMES = CELL_NAMES
_T = Text("lessons/gating")

# News titles in the style of THUCNews (the classifiers' data) to trace. They are inputs for a
# Chinese classifier, the same in every language, so they stay data here; the equations and
# every word about them are in content/<lang>/lstm_gru.md.
EXAMPLE_TEXTS = (
    "中国男篮击败韩国队晋级亚洲杯决赛",
    "央行宣布下调存款准备金率0.5个百分点",
    "新款手机发布搭载自研芯片续航提升",
    "高考成绩今日公布考生可登录查询",
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
    rnn = NN_MODULES[kind](embed_dim, hidden_size, batch_first=True, bidirectional=bidirectional)
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


def views_from_trace(trace: ModuleTrace, tokens: Sequence[str],
                     batch_index: int = 0) -> list[GateView]:
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
            _T(lang, "summary.gate"): g,
            _T(lang, "summary.mean"): round(float(s.mean()), 3),
            _T(lang, "summary.min"): round(float(s.min()), 3),
            _T(lang, "summary.max"): round(float(s.max()), 3),
        }
        sigmoid = g in SIGMOID_GATES
        row[_T(lang, "summary.shut")] = f"{float((s < 0.1).mean()):.0%}" if sigmoid else "—"
        row[_T(lang, "summary.open")] = f"{float((s > 0.9).mean()):.0%}" if sigmoid else "—"
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
    """One layer, one direction: parameters of RNN, GRU and LSTM and their ratio to the RNN.

    torch keeps two bias vectors per gate (b_ih and b_hh, whose sum is the equations' one b),
    hence 2H: the textbook count with one bias is G (H·I + H·H + H)."""
    base = param_count("rnn", input_size, hidden_size)
    formula = {"rnn": "H·I + H·H + 2H", "gru": "3 (H·I + H·H + 2H)", "lstm": "4 (H·I + H·H + 2H)"}
    return [
        {
            _T(lang, "params.cell"): KIND_NAMES[k],
            _T(lang, "params.formula"): formula[k],
            _T(lang, "params.count"): param_count(k, input_size, hidden_size),
            _T(lang, "params.ratio"): f"{param_count(k, input_size, hidden_size) / base:g}×",
            _T(lang, "params.numel"): torch_param_count(k, input_size, hidden_size),
        }
        for k in ("rnn", "gru", "lstm")
    ]


def torch_param_count(kind: str, input_size: int, hidden_size: int) -> int:
    """Parameters of a one-layer torch module of ``kind``, counted (the check on param_count)."""
    if max(input_size, hidden_size) > 4096:
        raise RnnVizError("sizes above 4096 are not counted here", where="hidden_size")
    module = NN_MODULES[kind](input_size, hidden_size, device="meta")  # shapes only, no memory
    return sum(p.numel() for p in module.parameters())
