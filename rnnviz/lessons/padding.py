"""The padding pitfall: what a classifier reads at the last position of a padded title.

The field's most used PyTorch TextRNN (Chinese-Text-Classification-Pytorch, models/TextRNN.py
and utils.py) pads every title *at the end* to 32 tokens and classifies from ``out[:, -1, :]``.
Its forward direction has then read the title and the padding after it; its backward
direction starts at the last position, so there it has read one padding token and nothing
else. (That code even pads with the id of <UNK>: it looks the pad id up as if it were a
character.) The course's TensorFlow TextRNN (gaussic/text-classification-cnn-rnn) also reads
``_outputs[:, -1, :]``, but Keras' ``pad_sequences`` pads *at the front* by default, so its
forward direction ends on the last character. Packing (``pack_padded_sequence``) runs each
direction over the real tokens only: h_n holds the forward state after the last character and
the backward state after the first.

Three ways to lay a batch of titles out (each cut to its first L tokens, as the field does):

    post    x_1 .. x_n PAD .. PAD     read out[:, -1]
    pre     PAD .. PAD x_1 .. x_n     read out[:, -1]
    packed  x_1 .. x_n (PAD skipped)  read h_n of each direction (the top layer)

This module computes what each of them hands the classifier for one title (``padding_view``)
and trains the same small model the three ways (``compare_schemes``, run by bench/padding.py,
whose JSON the page reads with ``load_results``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnviz.content import Text
from rnnviz.core.cells import CELLS
from rnnviz.core.jsonfile import read_json
from rnnviz.core.models import make_rnn
from rnnviz.core.text import PAD_ID, make_tokenizer
from rnnviz.errors import RnnVizError
from rnnviz.paths import ASSETS_DIR

SCHEMES = ("post", "pre", "packed")
DIRECTIONS = ("forward", "backward")
PAD_TO = 32  # the field's pad_size
MAX_PAD_TO = 128
RESULTS_FILE = ASSETS_DIR / "benchmarks" / "padding.json"
RESULTS_VERSION = 1
_T = Text("lessons/padding")


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise RnnVizError(f"unknown padding scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")


def _check_length(length: int) -> None:
    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= MAX_PAD_TO:
        raise RnnVizError(f"the padded length must be a whole number from 1 to {MAX_PAD_TO}, "
                          f"got {length!r}")


# ---- laying titles out ---------------------------------------------------------------------


def arrange(ids: Sequence[Sequence[int]], length: int, scheme: str) -> tuple[Tensor, Tensor]:
    """(B, L) token ids laid out for ``scheme`` and (B,) the number of real tokens in each.

    Every title is cut to its first ``length`` tokens. ``packed`` lays titles out as ``post``
    does: packing then tells the RNN where each one ends.
    """
    _check_scheme(scheme)
    _check_length(length)
    if not ids:
        raise RnnVizError("nothing to lay out: no titles")
    rows = torch.full((len(ids), length), PAD_ID, dtype=torch.long)
    lengths = []
    for row, title in enumerate(ids):
        kept = list(title)[:length]
        if not kept:
            raise RnnVizError("a title with no tokens cannot be read", where=f"title {row + 1}")
        n = len(kept)
        start = length - n if scheme == "pre" else 0
        rows[row, start:start + n] = torch.tensor(kept, dtype=torch.long)
        lengths.append(n)
    return rows, torch.tensor(lengths)


def read_last(rnn: nn.RNNBase, emb: Tensor, lengths: Tensor, scheme: str) -> Tensor:
    """(B, L, E) laid-out inputs -> (B, D*H): what a classifier reads from the top layer.

    post and pre: ``out[:, -1]``, whatever the last position holds (forward: everything read
    up to there; backward: only the last position). packed: h_n, each direction's state after
    its last real token.
    """
    _check_scheme(scheme)
    if scheme != "packed":
        out, _ = rnn(emb)
        return out[:, -1]
    packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
    _, state = rnn(packed)
    h_n = state[0] if isinstance(state, tuple) else state  # (layers * D, B, H)
    D = 2 if rnn.bidirectional else 1
    return torch.cat([h_n[-D + d] for d in range(D)], dim=-1)


def last_reads(n: int, length: int, scheme: str, direction: str) -> list[int | None]:
    """What the state a classifier takes has read, in reading order: positions of the title
    (0-based) and None for a padding step. ``n`` real tokens, padded to ``length``."""
    _check_scheme(scheme)
    _check_length(length)
    if direction not in DIRECTIONS:
        raise RnnVizError(f"unknown direction {direction!r}")
    m = min(n, length)
    if m < 1:
        raise RnnVizError("a title with no tokens cannot be read")
    pads: list[int | None] = [None] * (length - m)
    title: list[int | None] = list(range(m))
    if scheme == "packed":
        return title if direction == "forward" else title[::-1]
    if direction == "backward":  # out[:, -1] of the backward pass: its first step only
        return [None] if scheme == "post" and m < length else [m - 1]
    return title + pads if scheme == "post" else pads + title


# ---- one title, three ways ---------------------------------------------------------------


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """cos(a, b); 0 when either is the zero vector."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(np.dot(a, b) / (na * nb)) if na > 0 and nb > 0 else 0.0


@dataclass
class PaddingView:
    """What each scheme hands the classifier for one title, and how padding moves it."""

    tokens: list[str]  # the title's tokens the model reads (cut to ``length``)
    length: int  # L, the padded length
    cut: bool  # the title had more than L tokens
    hidden_size: int
    directions: int
    final: dict[str, np.ndarray]  # scheme -> (D*H,) what the classifier reads
    # scheme -> (steps, D): ||top-layer state|| at every position of the laid-out row
    # (L positions for post and pre, the n real ones for packed)
    norms: dict[str, np.ndarray]
    # scheme ("post", "pre") -> direction -> cos to the packed state after k = 0..K pads
    drift: dict[str, dict[str, np.ndarray]]
    probabilities: dict[str, np.ndarray] | None = None  # scheme -> (C,), a last-step classifier

    @property
    def n(self) -> int:
        return len(self.tokens)

    @property
    def pads(self) -> int:
        """Padding steps after (post) or before (pre) this title at length L."""
        return self.length - self.n

    def part(self, scheme: str, direction: str) -> np.ndarray:
        """One direction's half of ``final[scheme]``."""
        d = DIRECTIONS.index(direction)
        if d >= self.directions:
            raise RnnVizError("this model reads in one direction only")
        return self.final[scheme][d * self.hidden_size:(d + 1) * self.hidden_size]

    def similarity(self, scheme: str, direction: str | None = None) -> float:
        """cos between what ``scheme`` and packing hand the classifier (one direction's half,
        or the whole vector)."""
        if direction is None:
            return cosine(self.final[scheme], self.final["packed"])
        return cosine(self.part(scheme, direction), self.part("packed", direction))


def _top_layer_out(rnn: nn.RNNBase, emb: Tensor) -> Tensor:
    out, _ = rnn(emb)
    return out  # (B, T, D*H)


def _out_at_end(rnn: nn.RNNBase, emb: Tensor, lengths: Tensor) -> Tensor:
    """(B, D*H): each row's top-layer output at its own last position, as if the row were cut
    there and read unpacked (``out[:, -1]``): packing starts each row's backward pass at its
    own end, so rows of different lengths share one run."""
    packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, _ = rnn(packed)
    out, _ = pad_packed_sequence(out, batch_first=True)
    return out[torch.arange(len(lengths)), lengths - 1]


def _drift_rows(ids: Sequence[int], max_pads: int, scheme: str) -> tuple[Tensor, Tensor]:
    """Rows k = 0..K: the title with k padding steps after (post) or before (pre) it, each
    left-aligned with its own length m + k."""
    m = len(ids)
    rows = torch.full((max_pads + 1, m + max_pads), PAD_ID, dtype=torch.long)
    for k in range(max_pads + 1):
        start = k if scheme == "pre" else 0
        rows[k, start:start + m] = torch.tensor(list(ids), dtype=torch.long)
    return rows, m + torch.arange(max_pads + 1)


@torch.inference_mode()
def padding_view(model: nn.Module, ids: Sequence[int], tokens: Sequence[str], length: int = PAD_TO,
                 max_pads: int | None = None) -> PaddingView:
    """Run a classifier's embedding and recurrent layers (``model.embed``, ``model.rnn``, in eval
    mode) over one title laid out post, pre and packed, and over k = 0..``max_pads`` padding
    steps (default: L) to see how far padding moves the state from the packed one.

    When the model classifies from its last state (a TextRNN with ``pooling="last"``) its head
    (``model.fc``) also gives each scheme's probabilities: packed is what the model answers.
    """
    _check_length(length)
    if len(ids) != len(tokens):
        raise RnnVizError("ids and tokens differ in length")
    if not ids:
        raise RnnVizError("the title has no tokens")
    was_training = model.training
    model.eval()
    try:
        rnn = model.rnn
        D = 2 if rnn.bidirectional else 1
        H = rnn.hidden_size
        m = min(len(ids), length)
        final, norms = {}, {}
        for scheme in SCHEMES:
            rows, lengths = arrange([ids], length, scheme)
            emb = model.embed(rows)
            final[scheme] = read_last(rnn, emb, lengths, scheme)[0].numpy()
            if scheme == "packed":
                out = _top_layer_out(rnn, emb[:, :m])  # nothing padded: the same as packing
            else:
                out = _top_layer_out(rnn, emb)
            norms[scheme] = out[0].reshape(out.shape[1], D, H).norm(dim=-1).numpy()
        K = length if max_pads is None else max(0, int(max_pads))
        packed = final["packed"]
        drift: dict[str, dict[str, np.ndarray]] = {}
        for scheme in ("post", "pre"):
            rows, lengths = _drift_rows(ids[:m], K, scheme)
            per_k = _out_at_end(rnn, model.embed(rows), lengths).numpy()  # (K + 1, D*H)
            drift[scheme] = {
                DIRECTIONS[d]: np.array([cosine(v[d * H:(d + 1) * H], packed[d * H:(d + 1) * H])
                                         for v in per_k]) for d in range(D)}
            drift[scheme]["both"] = np.array([cosine(v, packed) for v in per_k])
        probabilities = None
        config = getattr(model, "config", None)
        if config is not None and config.model == "textrnn" and config.pooling == "last":
            probabilities = {s: torch.softmax(model.fc(torch.from_numpy(v)), -1).numpy()
                             for s, v in final.items()}
    finally:
        model.train(was_training)
    return PaddingView(tokens=list(tokens[:m]), length=length, cut=len(ids) > length,
                       hidden_size=H, directions=D, final=final, norms=norms, drift=drift,
                       probabilities=probabilities)


def similarity_band(value: float) -> str:
    """The band a cosine falls in, for the page's question: high (> 0.9), mid, low (< 0.5)."""
    return "high" if value > 0.9 else "low" if value < 0.5 else "mid"


def describe_reads(tokens: Sequence[str], reads: Sequence[int | None], lang: str = "zh",
                   edge: int = 4) -> str:
    """What a state has read, in its reading order, as a short strip: the tokens, a run of
    padding as "PAD×k", and "…" for the middle of a long stretch of title."""
    parts: list[str] = []
    i = 0
    while i < len(reads):
        if reads[i] is None:
            j = i
            while j < len(reads) and reads[j] is None:
                j += 1
            parts.append(_T(lang, "pad_run", k=j - i))
            i = j
            continue
        j = i
        while j < len(reads) and reads[j] is not None:
            j += 1
        run = [tokens[r] for r in reads[i:j]]  # type: ignore[index]
        parts.append("".join(run) if len(run) <= 2 * edge + 1
                     else "".join(run[:edge]) + "…" + "".join(run[-edge:]))
        i = j
    return " ".join(parts)


def reads_rows(view: PaddingView, lang: str = "zh") -> list[dict[str, Any]]:
    """One row per scheme and direction: what the state the classifier takes has read, how
    many of the title's tokens and padding steps that is, and its cosine to the packed state."""
    rows = []
    for scheme in SCHEMES:
        for direction in DIRECTIONS[:view.directions]:
            reads = last_reads(view.n, view.length, scheme, direction)
            rows.append({
                _T(lang, "col.scheme"): _T(lang, f"scheme.{scheme}"),
                _T(lang, "col.direction"): _T(lang, f"direction.{direction}"),
                _T(lang, "col.reads"): describe_reads(view.tokens, reads, lang),
                _T(lang, "col.title"): sum(r is not None for r in reads),
                _T(lang, "col.pads"): sum(r is None for r in reads),
                _T(lang, "col.cosine"): round(view.similarity(scheme, direction), 4),
            })
    return rows


def answer_rows(view: PaddingView, classes: Sequence[str], lang: str = "zh",
                name: Callable[[str], str] = str) -> list[dict[str, Any]]:
    """For a last-step classifier: each scheme's answer and its probability, and the
    probability it gives the class the packed read answers (what the model says)."""
    if view.probabilities is None:
        raise RnnVizError("this model does not classify from its last state")
    packed = int(np.argmax(view.probabilities["packed"]))
    rows = []
    for scheme in SCHEMES:
        p = view.probabilities[scheme]
        k = int(np.argmax(p))
        rows.append({
            _T(lang, "col.scheme"): _T(lang, f"scheme.{scheme}"),
            _T(lang, "col.answer"): name(classes[k]),
            _T(lang, "col.p"): round(float(p[k]), 4),
            _T(lang, "col.p_packed", label=name(classes[packed])): round(float(p[packed]), 4),
        })
    return rows


# ---- the same small model trained three ways ----------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """The small model and training run each scheme gets, identical but for the padding.

    The field's model in miniature: a bidirectional LSTM reading characters, one linear layer
    on what it reads last; as in its Config: Adam at a constant 1e-3, batch 128, titles cut to
    32, 10 epochs, the best dev epoch kept (post-padding learns slowly: at 3 epochs it is still
    far from where it ends, and the gap would measure speed rather than cost).
    """

    cell: str = "lstm"
    embed_dim: int = 64
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = True
    pad_to: int = PAD_TO
    batch_size: int = 128
    lr: float = 1e-3
    epochs: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise RnnVizError(f"unknown cell {self.cell!r}; choose one of {', '.join(CELLS)}")
        for name in ("embed_dim", "hidden_size", "num_layers", "batch_size", "epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise RnnVizError(f"{name} must be a positive integer, got {value!r}")
        _check_length(self.pad_to)
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise RnnVizError(f"lr must be a number > 0, got {self.lr!r}")


class PaddedClassifier(nn.Module):
    """Embedding -> RNN -> what ``scheme`` reads last -> linear: the field's TextRNN shape."""

    def __init__(self, recipe: Recipe, vocab_size: int, num_classes: int, scheme: str) -> None:
        super().__init__()
        _check_scheme(scheme)
        self.scheme = scheme
        self.embedding = nn.Embedding(vocab_size, recipe.embed_dim, padding_idx=PAD_ID)
        self.rnn = make_rnn(recipe.cell, recipe.embed_dim, recipe.hidden_size, recipe.num_layers,
                            recipe.bidirectional, 0.0)
        D = 2 if recipe.bidirectional else 1
        self.fc = nn.Linear(D * recipe.hidden_size, num_classes)

    def embed(self, ids: Tensor) -> Tensor:
        return self.embedding(ids)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """(B, L) laid-out ids, (B,) real lengths -> (B, C) logits."""
        return self.fc(read_last(self.rnn, self.embedding(ids), lengths, self.scheme))


@dataclass
class SchemeResult:
    scheme: str
    dev_accuracy: float  # the best epoch's, as the field keeps the best dev checkpoint
    best_epoch: int
    history: list[float]  # dev accuracy after each epoch
    seconds: float


@torch.inference_mode()
def accuracy(model: nn.Module, rows: Tensor, lengths: Tensor, labels: Tensor,
             batch_size: int = 512) -> float:
    """Share of ``labels`` the model gets right."""
    was_training = model.training
    model.eval()
    right = 0
    for s in range(0, len(labels), batch_size):
        logits = model(rows[s:s + batch_size], lengths[s:s + batch_size])
        right += int((logits.argmax(-1) == labels[s:s + batch_size]).sum())
    model.train(was_training)
    return right / max(1, len(labels))


def train_scheme(
    recipe: Recipe, scheme: str, train: tuple[list[list[int]], list[int]],
    dev: tuple[list[list[int]], list[int]], vocab_size: int, num_classes: int,
    progress: Callable[[str], None] | None = None,
) -> SchemeResult:
    """Train one ``PaddedClassifier`` for ``recipe.epochs`` and score dev after each epoch.

    Seeded so that every scheme starts from the same weights and sees the same batches: the
    three runs differ in how titles are laid out and read, nothing else.
    """
    start = time.perf_counter()
    torch.manual_seed(recipe.seed)
    model = PaddedClassifier(recipe, vocab_size, num_classes, scheme)
    rows, lengths = arrange(train[0], recipe.pad_to, scheme)
    labels = torch.tensor(train[1], dtype=torch.long)
    dev_rows, dev_lengths = arrange(dev[0], recipe.pad_to, scheme)
    dev_labels = torch.tensor(dev[1], dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(recipe.seed)
    history = []
    model.train()
    for epoch in range(recipe.epochs):
        order = torch.from_numpy(rng.permutation(len(labels)))
        for s in range(0, len(order), recipe.batch_size):
            batch = order[s:s + recipe.batch_size]
            loss = loss_fn(model(rows[batch], lengths[batch]), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        history.append(accuracy(model, dev_rows, dev_lengths, dev_labels))
        if progress is not None:
            progress(f"{scheme}: epoch {epoch + 1}/{recipe.epochs} dev accuracy "
                     f"{history[-1]:.4f} ({time.perf_counter() - start:.0f}s)")
    best = int(np.argmax(history))
    return SchemeResult(scheme=scheme, dev_accuracy=history[best], best_epoch=best + 1,
                        history=history, seconds=time.perf_counter() - start)


def encode_titles(texts: Sequence[str], vocab: Any) -> list[list[int]]:
    """Character ids per title; a title with no characters becomes one <UNK>."""
    tokenizer = make_tokenizer("char")
    return [vocab.encode(tokenizer(t)) or [vocab.id("<UNK>")] for t in texts]


def compare_schemes(
    recipe: Recipe, train_texts: Sequence[str], train_labels: Sequence[int],
    dev_texts: Sequence[str], dev_labels: Sequence[int], num_classes: int,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train the same model post, pre and packed on the same data; the JSON the page reads."""
    from rnnviz.core.text import Vocab  # the vocabulary from the training titles only

    tokenizer = make_tokenizer("char")
    vocab = Vocab.build(tokenizer(t) for t in train_texts)
    train = (encode_titles(train_texts, vocab), list(train_labels))
    dev = (encode_titles(dev_texts, vocab), list(dev_labels))
    dev_lengths = np.array([len(t) for t in dev[0]])
    runs = {s: train_scheme(recipe, s, train, dev, len(vocab), num_classes, progress)
            for s in SCHEMES}
    return {
        "version": RESULTS_VERSION,
        "recipe": asdict(recipe),
        "data": {"train": len(train[1]), "dev": len(dev[1]), "vocab": len(vocab),
                 "dev_mean_length": float(dev_lengths.mean()),
                 "dev_share_padded": float((dev_lengths < recipe.pad_to).mean())},
        "runs": {s: {"dev_accuracy": r.dev_accuracy, "best_epoch": r.best_epoch,
                     "history": r.history, "seconds": round(r.seconds, 1)}
                 for s, r in runs.items()},
    }


# ---- the stored figures ------------------------------------------------------------------


@dataclass
class StoredResults:
    """bench/padding.py's measurement, checked."""

    recipe: Recipe
    accuracy: dict[str, float]  # scheme -> best dev accuracy
    history: dict[str, list[float]]
    train_examples: int
    dev_examples: int
    dev_mean_length: float
    dev_share_padded: float
    extra: dict[str, Any] = field(default_factory=dict)  # command, machine, date

    @property
    def mean_pads(self) -> float:
        """Padding steps an average dev title carries at the recipe's length."""
        return max(0.0, self.recipe.pad_to - self.dev_mean_length)

    @property
    def command(self) -> str:
        """The command that measured it, safe inside a Markdown code span."""
        return str(self.extra.get("command", "")).replace("`", "'")

    def lowest(self) -> str:
        """The scheme that scored lowest on dev."""
        return min(SCHEMES, key=self.accuracy.__getitem__)

    def cost(self, scheme: str) -> float:
        """Dev accuracy lost against packing (points, as a fraction)."""
        return self.accuracy["packed"] - self.accuracy[scheme]


def parse_results(data: Any, where: str = "padding.json") -> StoredResults:
    """Check what bench/padding.py wrote; RnnVizError naming the fault otherwise."""
    try:
        if not isinstance(data, dict) or data.get("version") != RESULTS_VERSION:
            raise ValueError(f"expected a version {RESULTS_VERSION} results object")
        recipe = Recipe(**data["recipe"])
        runs = data["runs"]
        accuracy, history = {}, {}
        for s in SCHEMES:
            acc = float(runs[s]["dev_accuracy"])
            if not 0.0 <= acc <= 1.0:
                raise ValueError(f"{s}: accuracy {acc} outside [0, 1]")
            accuracy[s] = acc
            history[s] = [float(a) for a in runs[s]["history"]]
        info = data["data"]
        extra = {k: v for k, v in data.items() if k not in ("version", "recipe", "runs", "data")}
        return StoredResults(recipe=recipe, accuracy=accuracy, history=history,
                             train_examples=int(info["train"]), dev_examples=int(info["dev"]),
                             dev_mean_length=float(info["dev_mean_length"]),
                             dev_share_padded=float(info["dev_share_padded"]), extra=extra)
    except (KeyError, TypeError, ValueError) as exc:
        raise RnnVizError(f"not a padding benchmark result ({exc}); rerun bench/padding.py",
                          where=where) from None


def load_results(path: Path | None = None) -> StoredResults | None:
    """The stored measurement (default: RESULTS_FILE, looked up at each call); None while
    bench/padding.py has not written one."""
    path = RESULTS_FILE if path is None else path
    data = read_json(path)
    return None if data is None else parse_results(data, path.name)


__all__ = ["DIRECTIONS", "PAD_TO", "RESULTS_FILE", "SCHEMES", "PaddedClassifier", "PaddingView",
           "Recipe", "SchemeResult", "StoredResults", "answer_rows", "arrange", "compare_schemes",
           "cosine", "describe_reads", "last_reads", "load_results", "padding_view",
           "parse_results", "read_last", "reads_rows", "similarity_band", "train_scheme"]
