"""How much of the first symbol each cell still carries, and what the gates learn to keep.

Everything here runs the trained modules through ``rnnviz.core.trace`` (the step functions of
``rnnviz.core.cells``), so the numbers are the ones the gate heatmaps draw.

``three_cells``: the RNN, LSTM and GRU trained on remember-the-first-symbol read the same
sequence. For each step t (1-based, as on the page) it keeps each cell's states and the gain
of the path that carries the first symbol from step 1 to step t:

    RNN   ‖∂h_t/∂h_1‖₂ = ‖J_t ⋯ J_2‖₂,  J_s = diag(1 − h_s²) W      (its only path)
    LSTM  ‖∏_{s=2..t} diag(f_s)‖₂ = max_j ∏_s f_{s,j}                (the direct cell path)
    GRU   ‖∏_{s=2..t} diag(z_s)‖₂ = max_j ∏_s z_{s,j}                (the direct path)

All three are spectral norms of a Jacobian, so they share one log axis. For the gated cells it
is the direct path only: their full Jacobians also have terms through h_{t-1} and the gates
(Goodfellow et al. 2016, sec. 10.10; for the GRU, h_t = (1 − z_t)⊙n_t + z_t⊙h_{t−1} as in
Cho et al. 2014 and torch), but the direct path is the one with no W and no tanh' in it.

``memory_of``: one network's keep gates (f for an LSTM, z for a GRU) over its own input, as
the product of the last d keep gates per unit (median and mean over the units) — how much of
the memory d steps before the end still reaches the end along the direct path. The LSTM/GRU
page puts the news classifier beside an LSTM trained to remember: the gates learn what the
task needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.content import Text
from rnnviz.core.trace import trace_module
from rnnviz.errors import RnnVizError
from rnnviz.lessons.gating import GateView, cell_path_gain
from rnnviz.lessons.longdep import KIND_NAMES, FirstSymbolClassifier, FirstSymbolTask
from rnnviz.lessons.longdep_models import TrainedSet, initial_model

KEEP_GATE = {"lstm": "f", "gru": "z"}  # the gate on the direct path of each gated cell
MEMORY_STATE = {"rnn": "h", "lstm": "c", "gru": "h"}  # where each cell keeps its memory
_T = Text("lessons/memory")


@dataclass
class CellRun:
    """One trained cell over one sequence."""

    kind: str
    states: dict[str, np.ndarray]  # gate -> (T, H), float64, step order
    carry: np.ndarray  # (T,): carry[t-1] is the path gain from step 1 to step t (carry[0] = 1)
    probs: np.ndarray  # (K,): the answer after the last step (softmax of the readout)

    @property
    def memory(self) -> np.ndarray:
        """(T, H): the state that holds the memory (c for the LSTM, h otherwise)."""
        return self.states[MEMORY_STATE[self.kind]]

    @property
    def answer(self) -> int:
        return int(np.argmax(self.probs))


def prefix_gain(keep: np.ndarray) -> np.ndarray:
    """(T, H) keep gates -> (T, H): G[t] = keep[1] ⋯ keep[t] (0-based; G[0] = 1), the direct
    path's diagonal Jacobian from step 0 to step t."""
    keep = np.asarray(keep, dtype=np.float64)
    gain = np.ones_like(keep)
    for t in range(1, keep.shape[0]):
        gain[t] = gain[t - 1] * keep[t]
    return gain


def rnn_jacobian_norms(W: np.ndarray, h: np.ndarray) -> np.ndarray:
    """(H, H) recurrent weights W and (T, H) tanh states -> (T,): ‖∂h_t/∂h_1‖₂ for t = 1..T.

    ∂h_s/∂h_{s-1} = diag(1 − h_s²) W for h_s = tanh(U x_s + W h_{s-1} + b); the product is
    taken in time order J_t ⋯ J_2 (Goodfellow et al. 2016, sec. 10.2.2 and 10.7; d2l.ai 9.7).
    """
    W = np.asarray(W, dtype=np.float64)
    h = np.asarray(h, dtype=np.float64)
    product = np.eye(W.shape[0])
    norms = np.empty(h.shape[0])
    norms[0] = 1.0
    for s in range(1, h.shape[0]):
        product = ((1.0 - h[s] ** 2)[:, None] * W) @ product
        norms[s] = np.linalg.norm(product, 2)
    return norms


def run_cell(model: FirstSymbolClassifier, x: torch.Tensor) -> CellRun:
    """``model`` over one sequence ``x`` (T,) of token ids, every gate kept."""
    if x.ndim != 1 or x.numel() < 1:
        raise RnnVizError(f"expected one sequence of token ids, got shape {tuple(x.shape)}",
                          where="sequence")
    with torch.inference_mode():
        trace = trace_module(model.rnn, model.embedding(x[None]))
        logits = model.fc(trace.output[0, -1])
        probs = torch.softmax(logits.double(), -1).numpy()
    states = {g: v[0].double().numpy() for g, v in trace.layers[0].states.items()}
    if model.kind == "rnn":
        carry = rnn_jacobian_norms(model.rnn.weight_hh_l0.detach().numpy(), states["h"])
    else:
        carry = prefix_gain(states[KEEP_GATE[model.kind]]).max(axis=1)
    return CellRun(model.kind, states, carry, probs)


def gate_view(run: CellRun, tokens: list[str]) -> GateView:
    """A run as the gate heatmaps draw it (float32, one layer, forward)."""
    return GateView(list(tokens), run.kind, 0, "forward",
                    {g: v.astype(np.float32) for g, v in run.states.items()})


def task_view(trained: TrainedSet, kind: str, seed: int = 0,
              before_training: bool = False) -> GateView:
    """A shipped long-dependency ``kind`` model (or its initial weights) over the task
    sequence drawn from ``seed``, as the gate heatmaps draw it."""
    tokens, x = sequence(trained.task, seed)
    model = initial_model(trained, kind) if before_training else trained.models[kind]
    return gate_view(run_cell(model, x), tokens)


def three_cells(models: Mapping[str, FirstSymbolClassifier], x: torch.Tensor
                ) -> dict[str, CellRun]:
    """Each model over the same sequence ``x`` (T,)."""
    return {kind: run_cell(model, x) for kind, model in models.items()}


def least_carrier(runs: Mapping[str, CellRun], t: int) -> str:
    """The cell whose path from step 1 to step t (1-based) has the smallest gain."""
    if not 1 <= t <= min(len(r.carry) for r in runs.values()):
        raise RnnVizError(f"step {t} is outside the sequence", where="step")
    return min(runs, key=lambda k: runs[k].carry[t - 1])


def answer_rows(runs: Mapping[str, CellRun], task: FirstSymbolTask, first: int,
                lang: str = "zh") -> list[dict[str, object]]:
    """Per cell: its answer after the last step, the probability it gives the true first
    symbol, and whether it is right."""
    return [{
        _T(lang, "answer.col.cell"): KIND_NAMES[kind],
        _T(lang, "answer.col.answer"): task.token_name(run.answer),
        _T(lang, "answer.col.p_first", first=task.token_name(first)):
            round(float(run.probs[first]), 3),
        _T(lang, "answer.col.right"): _T(lang, "yes" if run.answer == first else "no"),
    } for kind, run in runs.items()]


def sequence(task: FirstSymbolTask, seed: int) -> tuple[list[str], torch.Tensor]:
    """One task sequence drawn from ``seed``: its tokens as text and its ids (T,)."""
    x, _ = task.sample(1, torch.Generator().manual_seed(seed))
    return [task.token_name(int(t)) for t in x[0]], x[0]


def steps_back_gain(keep: np.ndarray, reverse: bool = False) -> np.ndarray:
    """(T, H) keep gates in position order -> (T, H): row d holds, per unit, the product of the
    last d keep gates the cell applied (``cell_path_gain`` read from the end). ``reverse`` for
    a backward direction, whose last step is the first position."""
    keep = np.asarray(keep, dtype=np.float64)
    in_time = keep[::-1] if reverse else keep
    return cell_path_gain(in_time)[::-1]


@dataclass(frozen=True)
class Memory:
    """One network's keep gates over its own input.

    ``back`` is the median over the units: the typical unit. The mean is dominated by the few
    units whose gates sit near 1 (a title classifier has some), so both are reported."""

    source: str  # "classifier" | "longdep" | "demo"
    kind: str  # "lstm" | "gru"
    keep_mean: float  # mean keep gate over steps and units
    gains: np.ndarray  # (T, H): steps_back_gain

    @property
    def back(self) -> np.ndarray:
        """(T,): the median unit's product of the last d keep gates, d = 0..T-1."""
        return np.median(self.gains, axis=1)

    @property
    def back_mean(self) -> np.ndarray:
        return self.gains.mean(axis=1)

    @property
    def steps(self) -> int:
        return len(self.gains) - 1

    def at(self, d: int) -> float:
        return float(self.back[d])

    def mean_at(self, d: int) -> float:
        return float(self.back_mean[d])

    def best_at(self, d: int) -> float:
        """The unit that keeps the most over the last ``d`` steps."""
        return float(self.gains[d].max())


def memory_of(source: str, kind: str, keep: np.ndarray, reverse: bool = False) -> Memory:
    keep = np.asarray(keep, dtype=np.float64)
    if keep.ndim != 2 or keep.shape[0] < 2:
        raise RnnVizError("need the keep gates of at least two steps", where=source)
    return Memory(source, kind, float(keep.mean()), steps_back_gain(keep, reverse))


def common_steps(memories: Iterable[Memory]) -> int:
    """The longest look-back every network has (its input has one step more)."""
    return min(m.steps for m in memories)


def best_keeper(memories: Iterable[Memory], d: int) -> str:
    """The source whose memory keeps the most over the last ``d`` steps."""
    return max(memories, key=lambda m: m.at(d)).source


def memory_rows(memories: Iterable[Memory], d: int, lang: str = "zh"
                ) -> list[dict[str, object]]:
    """Per network: its cell, the mean keep gate, the median and mean ∏ over the last ``d``
    steps, and the median over its whole input."""
    return [{
        _T(lang, "memory.col.network"): _T(lang, f"source.{m.source}", T=m.steps + 1),
        _T(lang, "memory.col.cell"): KIND_NAMES[m.kind],
        _T(lang, f"memory.col.mean.{m.kind}"): round(m.keep_mean, 3),
        _T(lang, f"memory.col.d.{m.kind}", d=d): f"{m.at(d):.2g}",
        _T(lang, f"memory.col.dmean.{m.kind}", d=d): f"{m.mean_at(d):.2g}",
        _T(lang, "memory.col.steps"): m.steps,
        _T(lang, f"memory.col.all.{m.kind}"): f"{m.at(m.steps):.2g}",
    } for m in memories]


__all__ = ["KEEP_GATE", "MEMORY_STATE", "CellRun", "Memory", "answer_rows", "best_keeper",
           "common_steps", "gate_view", "least_carrier", "memory_of", "memory_rows", "prefix_gain",
           "rnn_jacobian_norms", "run_cell", "sequence", "steps_back_gain", "task_view",
           "three_cells"]
