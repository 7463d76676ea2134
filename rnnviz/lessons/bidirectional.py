"""What the bidirectional-RNN page computes: each direction's states and their concatenation,
what each direction has read at a position, the fill-in-the-blank examples, and the two
directions' separate weights.

Course notation, one direction at a time (d2l.ai 10.4; Goodfellow et al. 10.3; Schuster &
Paliwal 1997):

    h→_t = f(U→ x_t + W→ h→_{t-1} + b→)       read left to right, h→_0 = 0
    h←_t = f(U← x_t + W← h←_{t+1} + b←)       read right to left, h←_{T+1} = 0
    y_t  = [h→_t ; h←_t]                       what nn.LSTM(bidirectional=True) outputs

In PyTorch's names, layer 0: U→ = weight_ih_l0, W→ = weight_hh_l0, b→ = bias_ih_l0 +
bias_hh_l0, and the same names with ``_reverse`` for the backward direction.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rnnviz.content import Text
from rnnviz.core.cells import NUM_GATES, param_count
from rnnviz.core.trace import module_kind, trace_module
from rnnviz.errors import RnnVizError
from rnnviz.lessons.gating import (
    DEMO_BUCKETS,
    DemoNetwork,
    GateView,
    demo_tokens,
    pick_view,
    views_from_trace,
)

_T = Text("lessons/bidirectional")
BLANK_MARKS = ("＿", "_")
READERS = ("forward", "backward", "both", "neither")


# ---- each direction's states ---------------------------------------------------------------


def forward_backward(views: Iterable[GateView], layer: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(T, H) forward and backward hidden states of one bidirectional layer."""
    views = list(views)
    fwd = pick_view(views, layer, "forward").states["h"]
    return fwd, pick_view(views, layer, "backward").states["h"]


def concat_directions(views: Iterable[GateView], layer: int = 0) -> np.ndarray:
    """(T, 2H): [h→_t ; h←_t], what nn.LSTM(bidirectional=True) outputs at each t."""
    fwd, bwd = forward_backward(views, layer)
    return np.concatenate([fwd, bwd], axis=1)


def state_norms(states: np.ndarray) -> np.ndarray:
    """(T, H) -> (T,): the L2 norm of each token's state."""
    return np.linalg.norm(np.asarray(states, dtype=np.float64), axis=1)


def concat_matches_module(network: DemoNetwork, text: str) -> float:
    """max |[h→_t ; h←_t] (from the step-by-step trace) − nn module output|: 0 up to rounding."""
    tokens, x = network.encode(text)
    with torch.inference_mode():
        out, _ = network.rnn(x)
        trace = trace_module(network.rnn, x)
    concat = concat_directions(views_from_trace(trace, tokens))
    return float(np.abs(concat - out[0].numpy()).max())


# ---- what each direction has read ----------------------------------------------------------


def context_split(tokens: Sequence[str], t: int) -> tuple[str, str]:
    """What each direction has read when it reaches token t (0-based): forward x_1..x_t,
    backward x_t..x_T (1-based in the page's words). Both include token t itself.

    Words (tokens longer than one character, other than a blank) are joined with spaces,
    characters without.
    """
    if not 0 <= t < len(tokens):
        raise RnnVizError(f"position {t} is outside 0..{len(tokens) - 1}", where="position")
    words = any(len(tok) > 1 and not is_blank(tok) for tok in tokens)
    sep = " " if words else ""
    return sep.join(tokens[: t + 1]), sep.join(tokens[t:])


def readers(n_tokens: int, at: int, position: int) -> str:
    """Which direction's state at token ``at`` has already read token ``position`` (0-based):
    "forward" (position <= at), "backward" (position >= at), "both" (position == at)."""
    if not (0 <= at < n_tokens and 0 <= position < n_tokens):
        raise RnnVizError(f"positions must lie in 0..{n_tokens - 1}", where="position")
    if position == at:
        return "both"
    return "forward" if position < at else "backward"


def is_blank(token: str) -> bool:
    return bool(token) and set(token) <= set(BLANK_MARKS)


def sentence_tokens(sentence: str) -> list[str]:
    """Words for a sentence written with spaces (English), else its characters (Chinese).

    A run of blank marks is one token ("＿＿" stays "＿＿"), so the blank is drawn the same
    on both sides of the split and in the diagram.
    """
    if " " in sentence.strip():
        return sentence.split()
    tokens: list[str] = []
    for ch in demo_tokens(sentence):
        if tokens and is_blank(ch) and is_blank(tokens[-1]):
            tokens[-1] += ch
        else:
            tokens.append(ch)
    return tokens


def blank_index(tokens: Sequence[str]) -> int:
    """Position of the first blank (a token made of ＿ or _ only) in the tokens."""
    for t, tok in enumerate(tokens):
        if is_blank(tok):
            return t
    raise RnnVizError("the sentence has no blank (write ＿ or _ where the word goes)",
                      where="text")


@dataclass(frozen=True)
class BlankExample:
    """One fill-in-the-blank sentence from content/<lang>/lessons/bidirectional.md: the word
    that fills the blank, and the clue after the blank that decides it."""

    sentence: str
    answer: str
    clue: str

    @property
    def tokens(self) -> list[str]:
        return sentence_tokens(self.sentence)

    @property
    def blank(self) -> int:
        return blank_index(self.tokens)

    @property
    def clue_index(self) -> int:
        """The token where the clue begins (0-based); a clue may span tokens ("汽油")."""
        tokens = self.tokens
        for t in range(len(tokens)):
            if context_split(tokens, t)[1].startswith(self.clue):
                return t
        raise RnnVizError(f"the clue {self.clue!r} is not in {self.sentence!r}", where="clue")


def blank_mark(lang: str) -> str:
    """How the blank is written in ``lang`` (the same in every example and every view)."""
    return _T(lang, "blank")


def fill_blank_examples(lang: str) -> list[BlankExample]:
    """The examples in ``lang``: sections example.<n>.sentence / .answer / .clue, n = 1, 2, ..."""
    keys = set(_T.keys(lang))
    examples = []
    n = 1
    while f"example.{n}.sentence" in keys:
        examples.append(BlankExample(_T(lang, f"example.{n}.sentence"),
                                     _T(lang, f"example.{n}.answer"),
                                     _T(lang, f"example.{n}.clue")))
        n += 1
    return examples


def shared_left_context(examples: Sequence[BlankExample]) -> str | None:
    """The context the forward RNN has read at the blank when every example has the same one
    (the d2l.ai 10.4 set-up: the same left side, different right sides); None otherwise."""
    lefts = {context_split(e.tokens, e.blank)[0] for e in examples}
    return lefts.pop() if len(lefts) == 1 else None


def token_ids(tokens: Sequence[str]) -> torch.Tensor:
    """(1, T) embedding rows of the demo network: a character by its code point (as
    DemoNetwork.encode), a word or a blank by its CRC-32: the same token, the same row."""
    ids = [ord(tok) if len(tok) == 1 else zlib.crc32(tok.encode("utf-8")) for tok in tokens]
    return torch.tensor([[i % DEMO_BUCKETS for i in ids]])


def states_at_blank(network: DemoNetwork,
                    examples: Sequence[BlankExample]) -> tuple[np.ndarray, np.ndarray]:
    """(n, H) forward and (n, H) backward states at each example's blank, from the
    bidirectional module itself."""
    if not network.rnn.bidirectional:
        raise RnnVizError("the network is not bidirectional", where="network")
    H = network.rnn.hidden_size
    fwd, bwd = [], []
    with torch.inference_mode():
        for e in examples:
            out, _ = network.rnn(network.embedding(token_ids(e.tokens)))  # (1, T, 2H)
            fwd.append(out[0, e.blank, :H].numpy())
            bwd.append(out[0, e.blank, H:].numpy())
    return np.stack(fwd), np.stack(bwd)


def max_spread(states: np.ndarray) -> float:
    """max over units of (max − min) across the rows: 0 when every row is the same state."""
    states = np.asarray(states, dtype=np.float64)
    return float((states.max(axis=0) - states.min(axis=0)).max())


# ---- the two directions' weights -----------------------------------------------------------

def direction_weight_difference(rnn: nn.RNNBase, layer: int = 0,
                                lang: str = "zh") -> list[dict[str, object]]:
    """Frobenius norms of each forward weight, its ``_reverse`` twin, and their difference:
    the two directions are separate parameters (a difference of 0 would mean shared). The
    ``symbol`` column names each PyTorch tensor in the course's notation."""
    if not rnn.bidirectional:
        raise RnnVizError("the module is not bidirectional", where="rnn")
    rows = []
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        fwd = getattr(rnn, f"{name}_l{layer}").detach()
        bwd = getattr(rnn, f"{name}_l{layer}_reverse").detach()
        rows.append({
            _T(lang, "col.parameter"): f"{name}_l{layer}",
            _T(lang, "col.symbol"): _T(lang, f"symbol.{name}"),
            _T(lang, "col.shape"): "×".join(map(str, fwd.shape)),
            "‖fwd‖_F": round(float(torch.linalg.norm(fwd)), 4),
            "‖bwd‖_F": round(float(torch.linalg.norm(bwd)), 4),
            "‖fwd − bwd‖_F": round(float(torch.linalg.norm(fwd - bwd)), 4),
        })
    return rows


def layer_param_counts(rnn: nn.RNNBase, layer: int = 0) -> dict[str, int]:
    """Parameters of one layer counted on the module: ``forward`` (the tensors ending in
    ``_l<k>``), ``backward`` (``_l<k>_reverse``), ``layer`` (both), ``module`` (all layers),
    ``formula``, one direction by the closed form G (H·I + H·H + 2H), and its ``gates`` G and
    ``inputs`` I."""
    if not 0 <= layer < rnn.num_layers:
        raise RnnVizError(f"layer {layer} is outside 0..{rnn.num_layers - 1}", where="layer")
    forward = backward = 0
    for name, p in rnn.named_parameters():
        if name.endswith(f"_l{layer}"):
            forward += p.numel()
        elif name.endswith(f"_l{layer}_reverse"):
            backward += p.numel()
    D = 2 if rnn.bidirectional else 1
    inputs = rnn.input_size if layer == 0 else D * rnn.hidden_size
    kind = module_kind(rnn)
    return {
        "forward": forward,
        "backward": backward,
        "layer": forward + backward,
        "module": sum(p.numel() for p in rnn.parameters()),
        "formula": param_count(kind, inputs, rnn.hidden_size),
        "gates": NUM_GATES[kind],
        "inputs": inputs,
    }


__all__ = [
    "BLANK_MARKS", "READERS", "BlankExample", "blank_index", "blank_mark", "concat_directions",
    "concat_matches_module", "context_split", "direction_weight_difference",
    "fill_blank_examples", "forward_backward", "is_blank", "layer_param_counts", "max_spread",
    "readers", "sentence_tokens", "shared_left_context", "state_norms", "states_at_blank",
    "token_ids",
]
