"""The LSTM and the GRU one step at a time, with a model's real numbers.

For one token of a text and one layer (its forward direction), the step is computed again by
the step function the trace uses (``rnnviz.core.cells.lstm_step`` / ``gru_step``), from the
states the trace computed before it (``rnnviz.core.trace.trace_module``), and every gate's
pre-activation is split into its input share, its hidden share and its bias, so a page can
write each equation with its numbers.

Course notation (U input→hidden, W hidden→hidden), one matrix per gate. The LSTM in the four
steps of the course notes and colah's "Understanding LSTM Networks", whose W_f·[h_{t-1}, x_t]
is the same product split in two, W_f h_{t-1} + U_f x_t:

    1 forget   f_t = σ(U_f x_t + W_f h_{t-1} + b_f)
    2 input    i_t = σ(U_i x_t + W_i h_{t-1} + b_i),   g_t = tanh(U_g x_t + W_g h_{t-1} + b_g)
    3 cell     c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    4 output   o_t = σ(U_o x_t + W_o h_{t-1} + b_o),   h_t = o_t ⊙ tanh(c_t)

The GRU as torch's nn.GRU and rnnviz compute it (after Cho et al. 2014; d2l.ai 10.2):

    r_t = σ(U_r x_t + W_r h_{t-1} + b_r)          z_t = σ(U_z x_t + W_z h_{t-1} + b_z)
    n_t = tanh(U_n x_t + b_n^x + r_t ⊙ (W_n h_{t-1} + b_n^h))
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}           z_t near 1 keeps the old state

(Cho et al. 2014, arXiv:1406.1078 eq. 7, and d2l.ai write h_t this way; colah's blog, like Chung
et al. 2014, arXiv:1412.3555 eq. 5, writes h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ n_t: the same cell
with z and 1 - z swapped, see pytorch/pytorch#20129. The candidate n_t above is torch's and
cuDNN's form, r_t applied after W_n; Cho et al.'s final version (eq. 8), d2l.ai and colah apply
it before, W_n (r_t ⊙ h_{t-1}): see pytorch/pytorch#8153 and #99531.)

In PyTorch's names, for layer k: U_• are rows of ``weight_ih_l<k>``, W_• rows of
``weight_hh_l<k>``, b_• = ``bias_ih_l<k>`` + ``bias_hh_l<k>``, gates stacked (i, f, g, o) for
the LSTM and (r, z, n) for the GRU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnviz.core.cells import gru_step, lstm_step
from rnnviz.core.text import encode_text
from rnnviz.core.trace import ModuleTrace, module_kind, trace_module
from rnnviz.errors import RnnVizError
from rnnviz.lessons import longdep_models

STEP_KINDS = ("lstm", "gru")
# The gates stacked in weight_ih / weight_hh, torch's order.
STACKED = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
# The steps a page walks through, in the course's order.
STEPS = {"lstm": ("forget", "input", "cell", "output"),
         "gru": ("reset", "update", "candidate", "hidden")}
MAX_UNITS = 8
# The equations the page writes first, in the notation above.
EQUATIONS = {
    "lstm": r"\begin{aligned}f_t&=\sigma(U_f x_t+W_f h_{t-1}+b_f)\\"
            r"i_t&=\sigma(U_i x_t+W_i h_{t-1}+b_i),\quad g_t=\tanh(U_g x_t+W_g h_{t-1}+b_g)\\"
            r"c_t&=f_t\odot c_{t-1}+i_t\odot g_t\\"
            r"o_t&=\sigma(U_o x_t+W_o h_{t-1}+b_o),\quad h_t=o_t\odot\tanh(c_t)\end{aligned}",
    "gru": r"\begin{aligned}r_t&=\sigma(U_r x_t+W_r h_{t-1}+b_r),\quad"
           r"z_t=\sigma(U_z x_t+W_z h_{t-1}+b_z)\\"
           r"n_t&=\tanh\big(U_n x_t+b_n^x+r_t\odot(W_n h_{t-1}+b_n^h)\big)\\"
           r"h_t&=(1-z_t)\odot n_t+z_t\odot h_{t-1}\end{aligned}",
}


@dataclass(frozen=True)
class GateTerms:
    """One gate's pre-activation split into its parts, each (H,)."""

    Ux: np.ndarray  # U_• x_t: the input's share
    Wh: np.ndarray  # W_• h_{t-1}: the previous state's share
    b_x: np.ndarray  # bias_ih's rows of this gate
    b_h: np.ndarray  # bias_hh's rows of this gate

    @property
    def b(self) -> np.ndarray:
        return self.b_x + self.b_h

    @property
    def pre(self) -> np.ndarray:
        """U x_t + W h_{t-1} + b (the sigmoid's / tanh's argument for every gate except the
        GRU's candidate n, where r_t scales the hidden share)."""
        return self.Ux + self.Wh + self.b


@dataclass(frozen=True)
class Step:
    """Everything one step computes, for one token (``t`` 0-based) of one layer."""

    kind: str
    layer: int
    t: int
    tokens: list[str]
    x: np.ndarray  # (I,) the layer's input at t
    h_prev: np.ndarray  # (H,) h_{t-1} (zeros at the first token)
    c_prev: np.ndarray | None  # (H,) c_{t-1}, LSTM only
    terms: dict[str, GateTerms]  # i, f, g, o / r, z, n
    out: dict[str, np.ndarray]  # what the cell's step function returned: i f g o c h / r z n h

    @property
    def token(self) -> str:
        return self.tokens[self.t]

    @property
    def hidden_size(self) -> int:
        return self.h_prev.shape[0]


def trace(module: nn.RNNBase, x: Tensor) -> ModuleTrace:
    """The whole sequence x (T, I) through the module's cells, every gate kept."""
    if x.dim() != 2:
        raise RnnVizError(f"expected x of shape (T, I), got {tuple(x.shape)}", where="x")
    with torch.inference_mode():
        return trace_module(module, x)


def layer_input(module: nn.RNNBase, x: Tensor, run: ModuleTrace, layer: int) -> Tensor:
    """(T, I_k): what layer k reads, x itself for layer 0, else the layer below's [h→; h←]."""
    if not 0 <= layer < module.num_layers:
        raise RnnVizError(f"layer {layer} is outside 0..{module.num_layers - 1}", where="layer")
    if layer == 0:
        return x
    below = [run.get(layer - 1, d).states["h"][0] for d in ("forward", "backward")
             if any(t.layer == layer - 1 and t.direction == d for t in run.layers)]
    return torch.cat(below, dim=-1)


def _weights(module: nn.RNNBase, layer: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    W_ih, W_hh = getattr(module, f"weight_ih_l{layer}"), getattr(module, f"weight_hh_l{layer}")
    if module.bias:
        b_ih, b_hh = getattr(module, f"bias_ih_l{layer}"), getattr(module, f"bias_hh_l{layer}")
        return W_ih, W_hh, b_ih, b_hh
    return W_ih, W_hh, W_ih.new_zeros(W_ih.shape[0]), W_hh.new_zeros(W_hh.shape[0])


def step_at(module: nn.RNNBase, x: Tensor, tokens: Sequence[str], t: int, layer: int = 0,
            run: ModuleTrace | None = None) -> Step:
    """Token ``t`` (0-based) of x (T, I) through layer ``layer``'s forward direction; ``run``
    is the trace of x when the caller has it already."""
    kind = module_kind(module)
    if kind not in STEP_KINDS:
        raise RnnVizError(f"step-by-step is for LSTM and GRU, not {kind!r}", where="kind")
    run = run if run is not None else trace(module, x)
    with torch.inference_mode():
        inputs = layer_input(module, x, run, layer)
        T = inputs.shape[0]
        if len(tokens) != T:
            raise RnnVizError(f"{len(tokens)} tokens for {T} steps", where="tokens")
        if not 0 <= t < T:
            raise RnnVizError(f"token {t + 1} is outside 1..{T}", where="t")
        states = run.get(layer, "forward").states
        H = module.hidden_size
        zeros = inputs.new_zeros(H)
        h_prev = states["h"][0, t - 1] if t > 0 else zeros
        c_prev = (states["c"][0, t - 1] if t > 0 else zeros) if kind == "lstm" else None
        W_ih, W_hh, b_ih, b_hh = _weights(module, layer)
        x_t = inputs[t]
        if kind == "lstm":
            out = lstm_step(x_t[None], h_prev[None], c_prev[None], W_ih, W_hh, b_ih, b_hh)
        else:
            out = gru_step(x_t[None], h_prev[None], W_ih, W_hh, b_ih, b_hh)
        parts = [p.chunk(len(STACKED[kind])) for p in (W_ih @ x_t, W_hh @ h_prev, b_ih, b_hh)]
        terms = {g: GateTerms(*(_np(p[k]) for p in parts)) for k, g in enumerate(STACKED[kind])}
        return Step(kind=kind, layer=layer, t=t, tokens=list(tokens), x=_np(x_t),
                    h_prev=_np(h_prev), c_prev=None if c_prev is None else _np(c_prev),
                    terms=terms, out={k: _np(v[0]) for k, v in out.items()})


def _np(v: Tensor) -> np.ndarray:
    return v.detach().to(torch.float64).cpu().numpy()


# ---- which units to show -------------------------------------------------------------------


def most_active(step: Step, k: int = 4) -> list[int]:
    """The k units with the largest |h_t| at this token, most active first."""
    k = max(1, min(k, step.hidden_size))
    order = np.argsort(-np.abs(step.out["h"]), kind="stable")
    return [int(u) for u in order[:k]]


def check_units(step: Step, units: Sequence[int]) -> list[int]:
    units = [int(u) for u in units]
    if not units:
        raise RnnVizError("choose at least one unit", where="units")
    if len(units) > MAX_UNITS:
        raise RnnVizError(f"at most {MAX_UNITS} units fit in an equation", where="units")
    bad = [u for u in units if not 0 <= u < step.hidden_size]
    if bad:
        raise RnnVizError(f"units {bad} are outside 0..{step.hidden_size - 1}", where="units")
    return units


# ---- the equations, with their numbers -----------------------------------------------------


def _fmt(v: float, digits: int) -> str:
    s = f"{v:.{digits}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s  # no "-0.00"


def _vec(v: np.ndarray, units: Sequence[int], digits: int) -> str:
    return r"\begin{bmatrix}" + r" \\ ".join(_fmt(v[u], digits) for u in units) + r"\end{bmatrix}"


def _gate_line(step: Step, g: str, f: str, units: Sequence[int], digits: int) -> str:
    """g_t = f(U_g x_t + W_g h_{t-1} + b_g) = f([..] + [..] + [..]) = f([..]) = [..]"""
    t, tm = step.t + 1, step.t
    v = lambda a: _vec(a, units, digits)  # noqa: E731
    tt = step.terms[g]
    return (
        rf"{g}_{{{t}}} &= {f}\big(U_{g} x_{{{t}}} + W_{g} h_{{{tm}}} + b_{g}\big) \\"
        rf" &= {f}\Big(\underbrace{{{v(tt.Ux)}}}_{{U_{g} x_{{{t}}}}}"
        rf" + \underbrace{{{v(tt.Wh)}}}_{{W_{g} h_{{{tm}}}}}"
        rf" + \underbrace{{{v(tt.b)}}}_{{b_{g}}}\Big)"
        rf" = {f}\Big({v(tt.pre)}\Big) = {v(step.out[g])}"
    )


def step_latex(step: Step, units: Sequence[int], digits: int = 2) -> dict[str, str]:
    """Step name (``STEPS[kind]``) -> LaTeX of its equations with the numbers of ``units``."""
    units = check_units(step, units)
    t, tm = step.t + 1, step.t
    v = lambda a: _vec(a, units, digits)  # noqa: E731
    o = step.out
    aligned = lambda *lines: r"\begin{aligned}" + r" \\[6pt] ".join(lines) + r"\end{aligned}"  # noqa: E731
    if step.kind == "lstm":
        return {
            "forget": aligned(_gate_line(step, "f", r"\sigma", units, digits)),
            "input": aligned(_gate_line(step, "i", r"\sigma", units, digits),
                             _gate_line(step, "g", r"\tanh", units, digits)),
            "cell": aligned(
                rf"c_{{{t}}} &= f_{{{t}}} \odot c_{{{tm}}} + i_{{{t}}} \odot g_{{{t}}}"
                rf" = {v(o['f'])} \odot {v(step.c_prev)} + {v(o['i'])} \odot {v(o['g'])} \\"
                rf" &= {v(o['f'] * step.c_prev)} + {v(o['i'] * o['g'])} = {v(o['c'])}"),
            "output": aligned(
                _gate_line(step, "o", r"\sigma", units, digits),
                rf"h_{{{t}}} &= o_{{{t}}} \odot \tanh(c_{{{t}}})"
                rf" = {v(o['o'])} \odot \tanh{v(o['c'])} \\"
                rf" &= {v(o['o'])} \odot {v(np.tanh(o['c']))} = {v(o['h'])}"),
        }
    n = step.terms["n"]
    return {
        "reset": aligned(_gate_line(step, "r", r"\sigma", units, digits)),
        "update": aligned(_gate_line(step, "z", r"\sigma", units, digits)),
        "candidate": aligned(
            rf"n_{{{t}}} &= \tanh\big(U_n x_{{{t}}} + b_n^{{x}} + r_{{{t}}} \odot"
            rf" (W_n h_{{{tm}}} + b_n^{{h}})\big) \\"
            rf" &= \tanh\Big(\underbrace{{{v(n.Ux + n.b_x)}}}_{{U_n x_{{{t}}} + b_n^{{x}}}}"
            rf" + {v(o['r'])} \odot \underbrace{{{v(n.Wh + n.b_h)}}}_{{W_n h_{{{tm}}} + b_n^{{h}}}}"
            rf"\Big) \\ &= \tanh\Big({v(candidate_pre(step))}\Big) = {v(o['n'])}"),
        "hidden": aligned(
            rf"h_{{{t}}} &= (1 - z_{{{t}}}) \odot n_{{{t}}} + z_{{{t}}} \odot h_{{{tm}}}"
            rf" = {v(1 - o['z'])} \odot {v(o['n'])} + {v(o['z'])} \odot {v(step.h_prev)} \\"
            rf" &= {v((1 - o['z']) * o['n'])} + {v(o['z'] * step.h_prev)} = {v(o['h'])}"),
    }


def candidate_pre(step: Step) -> np.ndarray:
    """The GRU candidate's argument U_n x_t + b_n^x + r_t ⊙ (W_n h_{t-1} + b_n^h)."""
    n = step.terms["n"]
    return n.Ux + n.b_x + step.out["r"] * (n.Wh + n.b_h)


# ---- questions the page asks before it shows a step ----------------------------------------


def cell_grows(step: Step, unit: int) -> bool:
    """Whether |c_t| > |c_{t-1}| for ``unit``: the memory of this unit gets stronger."""
    return bool(abs(step.out["c"][unit]) > abs(step.c_prev[unit]))


def output_more_than_half_open(step: Step, unit: int) -> bool:
    """o_t > 0.5 for ``unit`` (σ(a) > 0.5 exactly when a > 0)."""
    return bool(step.out["o"][unit] > 0.5)


def keeps_more_of_the_old_state(step: Step, unit: int) -> bool:
    """Whether h_t takes more from h_{t-1} than from n_t: z_t > 0.5 in h = (1-z)n + z h_{t-1}."""
    return bool(step.out["z"][unit] > 0.5)


def reset_share(step: Step, unit: int) -> float:
    """r_t ⊙ (W_n h_{t-1} + b_n^h) for ``unit``: how much of the old state the candidate sees."""
    n = step.terms["n"]
    return float(step.out["r"][unit] * (n.Wh[unit] + n.b_h[unit]))


# ---- inputs: a shipped classifier or the demo network --------------------------------------


def classifier_inputs(predictor: Any, text: str) -> tuple[list[str], Tensor]:
    """Tokens of ``text`` and the vectors (T, I) the classifier's recurrent layer 0 reads:
    its embedding (with bigrams where the model has them), as at prediction time."""
    config = predictor.config
    encoded = encode_text(text, predictor.tokenizer, predictor.vocab, config.max_len)
    with torch.inference_mode():
        x = predictor.model.embed(torch.tensor([encoded.ids]))[0]
    return list(encoded.tokens), x


def shipped_longdep(kind: str) -> dict[str, Any]:
    """The shipped remember-the-first-symbol models (``rnnviz.lessons.longdep_models``) that
    hold a ``kind`` model, "longdep-<T>" -> TrainedSet, for whichever lengths are on disk."""
    found = {}
    for length in longdep_models.LENGTHS:
        if longdep_models.path_for(length).is_file():
            trained = longdep_models.load_shipped(length)
            if kind in trained.models:
                found[f"longdep-{length}"] = trained
    return found


def longdep_inputs(trained: Any, kind: str, seed: int) -> tuple[list[str], Tensor, str]:
    """One remember-the-first-symbol sequence drawn from ``seed`` for the shipped long-dependency
    models (``rnnviz.lessons.longdep_models.TrainedSet``): its symbols, the vectors (T, E) the
    ``kind`` model's recurrent layer reads, and the label (the first symbol)."""
    task = trained.task
    ids, label = task.sample(1, torch.Generator().manual_seed(seed))  # (1, T), (1,)
    with torch.inference_mode():
        x = trained.models[kind].embedding(ids[0])
    return [task.token_name(int(i)) for i in ids[0]], x, task.token_name(int(label[0]))


def demo_inputs(network: Any, text: str) -> tuple[list[str], Tensor]:
    """Tokens and vectors (T, I) of the demo network (``rnnviz.lessons.gating.DemoNetwork``)."""
    tokens, x = network.encode(text)
    return tokens, x[0]


__all__ = [
    "EQUATIONS", "MAX_UNITS", "STACKED", "STEPS", "STEP_KINDS", "GateTerms", "Step",
    "candidate_pre", "cell_grows", "check_units", "classifier_inputs", "demo_inputs",
    "keeps_more_of_the_old_state", "layer_input", "longdep_inputs", "most_active",
    "output_more_than_half_open", "reset_share", "shipped_longdep", "step_at", "step_latex",
    "trace",
]
