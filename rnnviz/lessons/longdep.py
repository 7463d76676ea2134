"""Long-term dependency, live: remember the first symbol of a long sequence.

The task: x_0 is one of K "signal" symbols (A, B, C, D); x_1 … x_{T-1} are random distractor
symbols (0 … 7); the label is x_0. Only the state after the last step is read, so the
answer must survive T - 1 steps of distractors. Chance is 1/K.

``train_side_by_side`` trains a vanilla RNN, an LSTM and a GRU on the same batches in
lockstep and reports their curves through a callback; as T grows the RNN stays at chance
(the gradient from the loss back to x_0 is a product of T - 1 Jacobians and vanishes) while
LSTM and GRU learn (the cell/update path is additive: f_t or z_t near 1 keeps it open).

Every random draw comes from a local ``torch.Generator`` seeded from the config (data and
weights), never the global RNG: the same config gives the same run on every machine, even
while other threads train.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from rnnviz.content import Text
from rnnviz.core.cells import NN_MODULES
from rnnviz.core.config import CELL_NAMES, CELLS
from rnnviz.errors import RnnVizError
from rnnviz.lessons.lockstep import History, copy_history, race

KINDS = CELLS
KIND_NAMES = CELL_NAMES
SIGNAL_NAMES = "ABCDEFGH"
_KIND_SEED = {"rnn": 101, "lstm": 202, "gru": 303}  # per-model init seed offsets
_EVAL_SEED = 1_000_003  # the held-out set never shares a draw with training batches
_T = Text("lessons/longdep")


@dataclass
class FirstSymbolTask:
    """Remember-the-first-symbol sequences of length T."""

    length: int  # T
    num_symbols: int = 4  # K signal symbols = classes
    num_distractors: int = 8

    def __post_init__(self) -> None:
        if not 2 <= self.length <= 1000:
            raise RnnVizError(f"length must be 2..1000, got {self.length}", where="longdep.length")
        if not 2 <= self.num_symbols <= len(SIGNAL_NAMES):
            raise RnnVizError(
                f"num_symbols must be 2..{len(SIGNAL_NAMES)}, got {self.num_symbols}",
                where="longdep.num_symbols",
            )
        if not 1 <= self.num_distractors <= 10:
            raise RnnVizError(
                f"num_distractors must be 1..10, got {self.num_distractors}",
                where="longdep.num_distractors",
            )

    @property
    def vocab_size(self) -> int:
        return self.num_symbols + self.num_distractors

    @property
    def chance(self) -> float:
        return 1.0 / self.num_symbols

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """x (B, T) token ids, y (B,) labels. Ids 0..K-1 are signals, K.. are distractors."""
        y = torch.randint(0, self.num_symbols, (batch_size,), generator=generator)
        x = torch.randint(
            self.num_symbols, self.vocab_size, (batch_size, self.length), generator=generator
        )
        x[:, 0] = y
        return x, y

    def token_name(self, token: int) -> str:
        if token < self.num_symbols:
            return SIGNAL_NAMES[token]
        return str(token - self.num_symbols)

    def format(self, x: Tensor, max_shown: int = 24) -> str:
        """One sequence as text, e.g. "C 3 7 0 … 5" (the middle elided when long)."""
        names = [self.token_name(int(t)) for t in x.tolist()]
        if len(names) > max_shown:
            keep = max_shown // 2
            names = names[:keep] + ["…"] + names[-keep:]
        return " ".join(names)

    def examples(self, n: int, seed: int) -> list[str]:
        """``n`` sequences as text with their labels, e.g. "C 3 7 … 5   →   C"."""
        x, y = self.sample(n, torch.Generator().manual_seed(seed))
        return [f"{self.format(s)}   →   {self.token_name(int(c))}"
                for s, c in zip(x, y, strict=True)]


@dataclass
class LongDepConfig:
    """One side-by-side run; the same config gives the same curves."""

    length: int = 60
    steps: int = 200
    batch_size: int = 64
    hidden_size: int = 32
    embed_dim: int = 8
    lr: float = 0.01
    clip_norm: float = 1.0
    seed: int = 0
    num_symbols: int = 4
    num_distractors: int = 8
    gate_bias_init: bool = True  # "chrono" init of the LSTM forget / GRU update gate biases
    kinds: tuple[str, ...] = KINDS
    report_every: int = 5  # steps between callback reports
    eval_size: int = 1000  # held-out sequences scored at the end
    time_budget_s: float = 0.0  # 0 = none; else stop after this long (a safety net)

    def __post_init__(self) -> None:
        self.kinds = tuple(self.kinds)
        for name, low in (("steps", 1), ("batch_size", 1), ("hidden_size", 1), ("embed_dim", 1),
                          ("report_every", 1), ("eval_size", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise RnnVizError(f"must be an integer >= {low}, got {value!r}",
                                  where=f"longdep.{name}")
        if not self.lr > 0:
            raise RnnVizError(f"must be positive, got {self.lr}", where="longdep.lr")
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown or not self.kinds:
            raise RnnVizError(f"kinds must be some of {KINDS}, got {self.kinds}",
                              where="longdep.kinds")
        self.task()  # validates length / symbols / distractors

    def task(self) -> FirstSymbolTask:
        return FirstSymbolTask(self.length, self.num_symbols, self.num_distractors)

    def to_dict(self) -> dict:
        return asdict(self)


class FirstSymbolClassifier(nn.Module):
    """Embedding -> RNN/LSTM/GRU -> linear on the last hidden state h_{T-1}."""

    def __init__(self, kind: str, vocab_size: int, num_classes: int, embed_dim: int,
                 hidden_size: int) -> None:
        super().__init__()
        self.kind = kind
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.rnn = NN_MODULES[kind](
            embed_dim, hidden_size, batch_first=True
        )
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(self.embedding(x))  # (B, T, H)
        return self.fc(out[:, -1])  # (B, K)


def build_model(kind: str, config: LongDepConfig) -> FirstSymbolClassifier:
    """The model of ``kind`` with weights drawn from its own seeded generator.

    The draws follow torch's default initialisations (N(0, 1) embedding; U(-1/sqrt(H),
    1/sqrt(H)) recurrent weights; U(-1/sqrt(fan_in), 1/sqrt(fan_in)) linear layer) but from
    a local generator, so concurrent runs cannot disturb each other's seeds.
    """
    task = config.task()
    model = FirstSymbolClassifier(kind, task.vocab_size, task.num_symbols, config.embed_dim,
                                  config.hidden_size)
    g = torch.Generator().manual_seed(config.seed * 1000 + _KIND_SEED[kind])
    H = config.hidden_size
    with torch.no_grad():
        model.embedding.weight.normal_(generator=g)
        for p in model.rnn.parameters():
            p.uniform_(-1 / math.sqrt(H), 1 / math.sqrt(H), generator=g)
        bound = 1 / math.sqrt(H)
        model.fc.weight.uniform_(-bound, bound, generator=g)
        model.fc.bias.uniform_(-bound, bound, generator=g)
        if config.gate_bias_init:
            chrono_init_(model.rnn, config.length, g)
    return model


def chrono_init_(rnn: nn.Module, max_len: int, generator: torch.Generator) -> None:
    """Gate biases that start with memories of about max_len steps (Tallec & Ollivier 2018).

    LSTM: b_f = log(u), u ~ U(1, T-1), and b_i = -b_f: a unit whose forget gate is
    sigmoid(log u) = u/(u+1) keeps its cell for about u steps. GRU (h_t = (1-z_t) n_t +
    z_t h_{t-1}): the update gate plays the forget gate's part, so b_z = log(u). The plain
    RNN has no gate to initialise: that is the point of the comparison.
    """
    if not isinstance(rnn, nn.LSTM | nn.GRU):
        return
    H = rnn.hidden_size
    u = torch.empty(H).uniform_(1.0, max(1.0, max_len - 1.0), generator=generator)
    b = torch.log(u)
    with torch.no_grad():
        if isinstance(rnn, nn.LSTM):  # torch order i, f, g, o
            rnn.bias_ih_l0[H:2 * H].copy_(b)
            rnn.bias_hh_l0[H:2 * H].zero_()
            rnn.bias_ih_l0[:H].copy_(-b)
            rnn.bias_hh_l0[:H].zero_()
        elif isinstance(rnn, nn.GRU):  # torch order r, z, n
            rnn.bias_ih_l0[H:2 * H].copy_(b)
            rnn.bias_hh_l0[H:2 * H].zero_()


@dataclass
class LongDepProgress:
    """What the callback gets: a snapshot the receiver may keep (nothing is shared)."""

    step: int
    total_steps: int
    elapsed_s: float
    history: dict[str, dict[str, list[float]]]  # kind -> {"step", "loss", "accuracy"}
    chance: float
    done: bool = False


@dataclass
class LongDepResult:
    config: LongDepConfig
    history: dict[str, dict[str, list[float]]]
    final_accuracy: dict[str, float]  # held-out, eval_size sequences
    steps_done: int
    elapsed_s: float
    stopped: bool
    stop_reason: str = ""
    chance: float = 0.25
    models: dict[str, FirstSymbolClassifier] = field(default_factory=dict, repr=False)


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, task: FirstSymbolTask, size: int, seed: int) -> float:
    """Accuracy on ``size`` held-out sequences drawn from ``seed``."""
    g = torch.Generator().manual_seed(seed + _EVAL_SEED)
    x, y = task.sample(size, g)
    model.eval()
    acc = (model(x).argmax(-1) == y).float().mean().item()
    model.train()
    return acc


def train_side_by_side(
    config: LongDepConfig,
    callback: Callable[[LongDepProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> LongDepResult:
    """Train config.kinds in lockstep on the same batches; history holds every step.

    Each step draws a fresh batch, so the accuracy recorded before the update is measured
    on sequences the model has never seen. Stops early when ``should_stop()`` turns true or
    the time budget runs out; the result says so.
    """
    task = config.task()
    models = {kind: build_model(kind, config) for kind in config.kinds}
    optims = {k: torch.optim.Adam(m.parameters(), lr=config.lr) for k, m in models.items()}
    data = torch.Generator().manual_seed(config.seed)

    def progress(step: int, elapsed: float, history: History, done: bool) -> None:
        if callback is not None:
            callback(LongDepProgress(step, config.steps, elapsed, history, task.chance, done))

    run = race(models, optims, steps=config.steps,
               next_batch=lambda: task.sample(config.batch_size, data),
               forward=lambda kind, model, x, step: model(x), clip_norm=config.clip_norm,
               report_every=config.report_every, time_budget_s=config.time_budget_s,
               should_stop=should_stop,
               report=lambda step, elapsed, history: progress(step, elapsed, history, False))
    final = {k: evaluate_accuracy(m, task, config.eval_size, config.seed)
             for k, m in models.items()}
    elapsed = time.monotonic() - run.started
    progress(run.steps_done, elapsed, copy_history(run.history), True)
    return LongDepResult(config, run.history, final, run.steps_done, elapsed,
                         run.stopped, run.reason, task.chance, models)


def moving_average(values: list[float] | np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values (fewer at the start); same length."""
    v = np.asarray(values, dtype=float)
    if window < 1:
        raise RnnVizError(f"window must be >= 1, got {window}", where="window")
    c = np.concatenate([[0.0], np.cumsum(v)])
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def downsample_indices(n: int, max_points: int) -> np.ndarray:
    """At most ``max_points`` evenly spread indices of 0..n-1, first and last included."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def verdict(accuracy: float, chance: float) -> str:
    """"learned" (at least halfway from chance to perfect), "chance" (within 0.1 of chance)
    or "partly"."""
    if accuracy >= chance + 0.5 * (1 - chance):
        return "learned"
    return "chance" if accuracy < chance + 0.1 else "partly"


def summary_rows(result: LongDepResult, lang: str = "zh") -> list[dict[str, object]]:
    """One row per model: held-out accuracy, final smoothed loss, verdict against chance."""
    rows = []
    for kind, acc in result.final_accuracy.items():
        loss = result.history[kind]["loss"]
        last_loss = float(moving_average(loss, 20)[-1]) if loss else float("nan")
        rows.append({
            _T(lang, "col.model"): KIND_NAMES[kind],
            _T(lang, "col.accuracy"): round(acc, 3),
            _T(lang, "col.loss"): round(last_loss, 3),
            _T(lang, "col.verdict"): _T(lang, f"verdict.{verdict(acc, result.chance)}"),
        })
    return rows
