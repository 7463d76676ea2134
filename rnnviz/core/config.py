"""Every setting of a classifier and of its training, declared once; no torch here.

``ModelConfig`` (the architecture, saved in each checkpoint as ``config``) and ``TrainConfig``
(how it was trained, saved as ``train_config``) declare per field its default, a help text, the
rule a value must follow and, where the command line offers it, its flag. Both check
themselves on construction and name the field at fault. ``python -m rnnviz train`` builds its
flags from these fields (rnnviz/cli.py); the app's widgets and the lessons read the choice
lists below. Like nanoGPT's ``GPTConfig``, the config travels with the weights.

Importing this module does not import torch (tests/test_config.py checks it), so the CLI's
``--help`` stays fast.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from rnnviz.errors import RnnVizError

MODELS = ("textrnn", "textrcnn")
CELLS = ("rnn", "lstm", "gru")  # every recurrent cell kind, simplest first (the pages' order)
CELL_NAMES = {kind: kind.upper() for kind in CELLS}  # how a cell kind is written: "LSTM"
POOLINGS = ("last", "mean", "max", "meanmax")
TOKENIZERS = ("char", "word")
DEVICES = ("auto", "cpu", "cuda", "mps")
SCHEDULES = ("cosine", "constant")
# Where a model's shipped settings differ from ModelConfig's defaults (those are TextRNN's):
# RCNN's max-pool over [left; e; right] already sees every position, one layer suffices.
MODEL_PRESETS: dict[str, dict[str, object]] = {"textrcnn": {"num_layers": 1}}


@dataclass(frozen=True)
class Rule:
    """The values a setting accepts: a type and a range [low, high), or a list of choices."""

    kind: type  # bool, int, float (an int is a float too) or str
    low: float | None = None
    high: float | None = None  # excluded
    above: bool = False  # low excluded too: (low, high)
    choices: tuple[str, ...] = ()
    message: str = ""  # what a refused number or switch is told

    def problem(self, name: str, value: object) -> str | None:
        """Why ``value`` is refused for the setting ``name``; None when it is fine."""
        if self.choices:
            if isinstance(value, str) and value in self.choices:
                return None
            return f"unknown {name} {value!r}; choose one of {', '.join(self.choices)}"
        if self.kind is bool:
            return None if isinstance(value, bool) else self.message
        number = int if self.kind is int else int | float
        if isinstance(value, bool) or not isinstance(value, number):  # bool is an int: refuse it
            return self.message
        # Written so that NaN fails every comparison and is refused.
        low_ok = self.low is None or (value > self.low if self.above else value >= self.low)
        high_ok = self.high is None or value < self.high
        return None if low_ok and high_ok else self.message


POSITIVE_INT = Rule(int, low=1, message="must be a positive integer")
COUNT = Rule(int, low=0, message="must be an integer >= 0")
INTEGER = Rule(int, message="must be an integer")
FRACTION = Rule(float, low=0, high=1, message="must be a number in [0, 1)")
NON_NEGATIVE = Rule(float, low=0, message="must be a number >= 0")
POSITIVE = Rule(float, low=0, above=True, message="must be a number > 0")
SWITCH = Rule(bool, message="must be true or false")


def one_of(choices: tuple[str, ...]) -> Rule:
    return Rule(str, choices=choices)


def setting(default: Any, rule: Rule, help: str, flag: str | None = None) -> Any:
    """A config field: its default, the rule its values follow, its help text and, when the
    command line offers it, its flag."""
    return field(default=default, metadata={"rule": rule, "help": help, "flag": flag})


_C = TypeVar("_C", bound="_Settings")


class _Settings:
    """What both configs do with their fields: check them, and go to and from a JSON dict."""

    WHERE: ClassVar[str]  # how messages name a field: "config.dropout"
    LABEL: ClassVar[str]

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            problem = f.metadata["rule"].problem(f.name, getattr(self, f.name))
            if problem:
                raise RnnVizError(problem, where=f"{self.WHERE}.{f.name}")

    def to_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[_C], data: dict) -> _C:
        if not isinstance(data, dict):
            raise RnnVizError(f"{cls.LABEL} must be a JSON object")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})  # type: ignore[arg-type]
        if unknown:
            raise RnnVizError(f"unknown {cls.WHERE} fields {unknown}")
        return cls(**data)


@dataclass
class ModelConfig(_Settings):
    """Every hyper-parameter of a classifier; saved in the checkpoint and shown by the UI."""

    WHERE: ClassVar[str] = "config"
    LABEL: ClassVar[str] = "model config"

    model: str = setting("textrnn", one_of(MODELS), "the classifier")
    cell: str = setting("lstm", one_of(CELLS), "the recurrent cell", "--cell")
    vocab_size: int = setting(
        2, Rule(int, low=2, message="must include <PAD> and <UNK>"),
        "rows of the token embedding (set from the training data)")
    num_classes: int = setting(
        10, Rule(int, low=2, message="need at least two classes"),
        "classifier outputs (set from the training data)")
    embed_dim: int = setting(128, POSITIVE_INT, "embedding size", "--embed")
    hidden_size: int = setting(128, POSITIVE_INT, "hidden units per direction", "--hidden")
    num_layers: int = setting(2, POSITIVE_INT, "stacked recurrent layers", "--layers")
    bidirectional: bool = setting(
        True, SWITCH, "read the text both ways (TextRCNN always does)", "--bidirectional")
    pooling: str = setting("max", one_of(POOLINGS), "TextRNN pooling over time", "--pooling")
    dropout: float = setting(
        0.5, FRACTION, "between layers and before the classifier", "--dropout")
    embed_dropout: float = setting(0.2, FRACTION, "on the embeddings", "--embed-dropout")
    rcnn_proj: int = setting(256, POSITIVE_INT, "TextRCNN projection width", "--rcnn-proj")
    # The course's TextRNN (gaussic/text-classification-cnn-rnn, TRNNConfig) classifies with
    # FC(hidden_dim) -> dropout -> ReLU -> FC; 0 keeps the single linear layer V, so every
    # checkpoint saved before this field existed loads unchanged (its JSON lacks the key).
    fc_hidden: int = setting(
        0, COUNT, "width of a hidden fully connected layer before the output, FC-ReLU-FC as in "
        "the course's TextRNN (0 = one linear layer)", "--fc-hidden")
    bigram_dim: int = setting(
        64, COUNT, "size of a character-bigram embedding added to each token (0 = off)",
        "--bigram-dim")
    bigram_vocab: int = setting(
        0, COUNT, "number of known bigrams (set from the training data)")
    tokenizer: str = setting("char", one_of(TOKENIZERS), "char, or jieba words", "--tokenizer")
    max_len: int = setting(
        512, POSITIVE_INT, "tokens read at prediction time (longer input is cut, and says so)",
        "--max-len")

    # Fields added after checkpoints were shipped, with the value that means "as before". At
    # that value they are left out of the saved JSON, so a config that does not use them is
    # saved (and compared, and hashed) exactly as before and older RNN Lab versions still read
    # it; reading a file without them gives the same value (the field's default).
    LATER_FIELDS: ClassVar[dict[str, object]] = {"fc_hidden": 0}

    def to_dict(self) -> dict:
        out = super().to_dict()
        for name, unset in self.LATER_FIELDS.items():
            if out.get(name) == unset:
                del out[name]
        return out

    @property
    def input_size(self) -> int:
        """Width of the vectors the RNN reads: token embedding (+ bigram embedding)."""
        return self.embed_dim + (self.bigram_dim if self.bigram_vocab else 0)

    @property
    def directions(self) -> int:
        return 2 if (self.bidirectional or self.model == "textrcnn") else 1

    @classmethod
    def for_model(cls, model: str, **overrides: object) -> ModelConfig:
        """The shipped defaults for ``model`` (MODEL_PRESETS), then ``overrides``."""
        return cls(**{"model": model, **MODEL_PRESETS.get(model, {}), **overrides})


@dataclass
class TrainConfig(_Settings):
    """How a model is trained; saved in the checkpoint beside the model config."""

    WHERE: ClassVar[str] = "train_config"
    LABEL: ClassVar[str] = "training config"

    epochs: int = setting(5, POSITIVE_INT, "passes over the training set", "--epochs")
    batch_size: int = setting(
        128, POSITIVE_INT, "examples per step and process (under torchrun the global batch is "
        "this x the number of processes)", "--batch-size")
    lr: float = setting(3e-3, POSITIVE, "Adam learning rate (peak)", "--lr")
    embed_lr_scale: float = setting(
        1.0, POSITIVE, "the embeddings' learning rate as a multiple of --lr (their rows start at "
        "N(0, 1): a short run needs larger steps to move them)", "--embed-lr-scale")
    weight_decay: float = setting(0.0, NON_NEGATIVE, "Adam weight decay", "--weight-decay")
    clip_norm: float = setting(
        5.0, NON_NEGATIVE, "gradient-norm clipping (0 = off)", "--clip-norm")
    warmup_steps: int = setting(100, COUNT, "linear LR warm-up steps", "--warmup-steps")
    schedule: str = setting("cosine", one_of(SCHEDULES), "LR after warm-up", "--schedule")
    label_smoothing: float = setting(
        0.1, FRACTION, "cross-entropy smoothing", "--label-smoothing")
    seed: int = setting(0, INTEGER, "random seed (same seed, same run)", "--seed")
    device: str = setting(
        "auto", one_of(DEVICES), "auto: CUDA, then Apple MPS, then the CPU", "--device")
    patience: int = setting(
        2, COUNT, "evaluations without dev improvement before stopping (0 = never)",
        "--patience")
    eval_every: int = setting(
        0, COUNT, "steps between dev evaluations (0 = once per epoch, or by --eval-every-s)",
        "--eval-every")
    eval_every_s: float = setting(
        0.0, NON_NEGATIVE, "seconds between dev evaluations (0 = by steps)", "--eval-every-s")
    dev_sample: int = setting(
        0, COUNT, "dev examples scored at each evaluation during the run, drawn at random; the "
        "kept weights are scored on the whole dev set at the end (0 = the whole set each time)",
        "--dev-sample")
    max_steps: int = setting(
        0, COUNT, "stop after this many steps (0 = epochs decide)", "--max-steps")
    time_budget_s: float = setting(
        0.0, NON_NEGATIVE, "seconds to a scored model, the final evaluation included; the LR "
        "decay is fitted to it and the best weights are kept (0 = none)", "--time-budget")
    # Titles are ~20 characters: 64 tokens keep nearly all of each.
    max_train_len: int = setting(
        64, POSITIVE_INT, "tokens kept per training text", "--max-train-len")
    min_freq: int = setting(1, POSITIVE_INT, "rarer tokens become <UNK>", "--min-freq")
    max_vocab: int = setting(0, COUNT, "vocabulary cap (0 = none)", "--max-vocab")
    bigram_min_freq: int = setting(
        2, POSITIVE_INT, "rarer bigrams share the unknown-bigram vector", "--bigram-min-freq")
    max_bigrams: int = setting(
        20000, COUNT, "bigram cap: the most frequent (0 = none)", "--max-bigrams")
    bucket: bool = setting(
        True, SWITCH, "batch texts of similar length together", "--bucket")


__all__ = ["CELLS", "CELL_NAMES", "DEVICES", "MODELS", "MODEL_PRESETS", "POOLINGS", "SCHEDULES",
           "TOKENIZERS", "ModelConfig", "Rule", "TrainConfig", "setting"]
