"""Command line: ``python -m rnnviz {train,evaluate,predict,download}``.

    python -m rnnviz train --model {textrnn,textrcnn} --data-dir DIR [--cell lstm] [--epochs N] [--out FILE]
    python -m rnnviz evaluate --checkpoint FILE --data FILE [--classes FILE] [--json]
    python -m rnnviz predict --checkpoint FILE [--json] TEXT
    python -m rnnviz download thucnews [--dest DIR] [--source URL]

Exit status: 0 done; 2 bad input (an ``RnnVizError``, a missing or unreadable file, or an
argparse usage error), reported as ONE line ``error: ...`` on stderr, never a traceback;
130 interrupted. Ctrl-C during training stops at the end of the current step, keeps the best
dev weights seen so far, prints the report, saves the checkpoint and exits with 130 (the
shell's code for SIGINT) so scripts can tell a cut-short run; a second Ctrl-C aborts at once
without saving.

Heavy imports (torch) happen inside the commands, so ``--help`` and ``download`` start fast.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnviz import __version__
from rnnviz.errors import RnnVizError
from rnnviz.paths import DATA_DIR_ENV, data_dir, download_dir

if TYPE_CHECKING:
    from rnnviz.core.callbacks import TrainerControl
    from rnnviz.core.checkpoint import Checkpoint
    from rnnviz.core.data import Dataset
    from rnnviz.core.metrics import EvalReport

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
INTERRUPTED = "interrupted (Ctrl-C)"
DEVICES = ("auto", "cpu", "cuda", "mps")


# ---- small argparse helpers ----------------------------------------------------------------


class _DataclassDefault:
    """Shows a ModelConfig/TrainConfig default in ``--help`` without importing torch first.

    An option left at this sentinel is not passed on, so the dataclass default applies.
    """

    def __init__(self, module: str, cls: str, field: str) -> None:
        self.module, self.cls, self.field = module, cls, field

    def __str__(self) -> str:
        import importlib

        return str(getattr(getattr(importlib.import_module(self.module), self.cls), self.field))


def _model_default(field: str) -> _DataclassDefault:
    return _DataclassDefault("rnnviz.core.models", "ModelConfig", field)


def _train_default(field: str) -> _DataclassDefault:
    return _DataclassDefault("rnnviz.core.train", "TrainConfig", field)


def _number(kind: type, low: float, *, strict: bool = False) -> Any:
    """An argparse type: a number >= low (> low when strict)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {kind.__name__}") from None
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low}, got {text}")
        return value

    return parse


POSITIVE_INT = _number(int, 1)
NON_NEGATIVE_INT = _number(int, 0)
NON_NEGATIVE_FLOAT = _number(float, 0.0)
POSITIVE_FLOAT = _number(float, 0.0, strict=True)


def _fraction(text: str) -> float:
    value = NON_NEGATIVE_FLOAT(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


# Option name -> (dataclass field, argparse kwargs). Left at its default, an option is not
# passed on: the dataclass decides, and ``--help`` shows its value.
MODEL_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "--embed": ("embed_dim", {"type": POSITIVE_INT, "help": "embedding size"}),
    "--hidden": ("hidden_size", {"type": POSITIVE_INT, "help": "hidden units per direction"}),
    "--layers": ("num_layers", {"type": POSITIVE_INT, "help": "stacked recurrent layers"}),
    "--bidirectional": ("bidirectional", {
        "action": argparse.BooleanOptionalAction,
        "help": "read the text both ways (TextRCNN always does)",
    }),
    "--pooling": ("pooling", {
        "choices": ("last", "mean", "max", "meanmax"), "help": "TextRNN pooling over time",
    }),
    "--dropout": ("dropout", {"type": _fraction, "help": "between layers and before the classifier"}),
    "--embed-dropout": ("embed_dropout", {"type": _fraction, "help": "on the embeddings"}),
    "--rcnn-proj": ("rcnn_proj", {"type": POSITIVE_INT, "help": "TextRCNN projection width"}),
    "--bigram-dim": ("bigram_dim", {
        "type": NON_NEGATIVE_INT, "help": "size of a character-bigram embedding added to each token (0 = off)",
    }),
    "--max-len": ("max_len", {"type": POSITIVE_INT, "help": "tokens read at prediction time"}),
}
TRAIN_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "--epochs": ("epochs", {"type": POSITIVE_INT, "help": "passes over the training set"}),
    "--batch-size": ("batch_size", {"type": POSITIVE_INT, "help": "examples per step"}),
    "--lr": ("lr", {"type": POSITIVE_FLOAT, "help": "Adam learning rate (peak)"}),
    "--weight-decay": ("weight_decay", {"type": NON_NEGATIVE_FLOAT, "help": "Adam weight decay"}),
    "--clip-norm": ("clip_norm", {"type": NON_NEGATIVE_FLOAT, "help": "gradient-norm clipping (0 = off)"}),
    "--warmup-steps": ("warmup_steps", {"type": NON_NEGATIVE_INT, "help": "linear LR warm-up steps"}),
    "--schedule": ("schedule", {"choices": ("cosine", "constant"), "help": "LR after warm-up"}),
    "--label-smoothing": ("label_smoothing", {"type": _fraction, "help": "cross-entropy smoothing"}),
    "--seed": ("seed", {"type": int, "help": "random seed (same seed, same run)"}),
    "--patience": ("patience", {
        "type": NON_NEGATIVE_INT, "help": "evaluations without dev improvement before stopping (0 = never)",
    }),
    "--eval-every": ("eval_every", {
        "type": NON_NEGATIVE_INT, "help": "steps between dev evaluations (0 = once per epoch)",
    }),
    "--max-steps": ("max_steps", {"type": NON_NEGATIVE_INT, "help": "stop after this many steps (0 = epochs decide)"}),
    "--time-budget": ("time_budget_s", {
        "type": NON_NEGATIVE_FLOAT, "help": "seconds; stop and keep the best after this long (0 = none)",
    }),
    "--max-train-len": ("max_train_len", {"type": POSITIVE_INT, "help": "tokens kept per training text"}),
    "--min-freq": ("min_freq", {"type": POSITIVE_INT, "help": "rarer tokens become <UNK>"}),
    "--max-vocab": ("max_vocab", {"type": NON_NEGATIVE_INT, "help": "vocabulary cap (0 = none)"}),
    "--bigram-min-freq": ("bigram_min_freq", {
        "type": POSITIVE_INT, "help": "rarer bigrams share the unknown-bigram vector",
    }),
    "--max-bigrams": ("max_bigrams", {"type": NON_NEGATIVE_INT, "help": "bigram cap (0 = none)"}),
    "--bucket": ("bucket", {
        "action": argparse.BooleanOptionalAction, "help": "batch texts of similar length together",
    }),
}


def _add_options(
    group: argparse._ArgumentGroup, options: dict[str, tuple[str, dict[str, Any]]], default: Any,
) -> None:
    for flag, (field, kwargs) in options.items():
        extra = {"metavar": flag[2:].upper().replace("-", "_")} if "type" in kwargs else {}
        group.add_argument(
            flag, dest=f"opt_{field}", default=default(field),
            **{**kwargs, **extra, "help": kwargs["help"] + " (default: %(default)s)"},
        )


def _chosen(args: argparse.Namespace, options: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The dataclass fields the user set on the command line."""
    out = {}
    for field, _ in options.values():
        value = getattr(args, f"opt_{field}")
        if not isinstance(value, _DataclassDefault):
            out[field] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rnnviz",
        description="RNN Lab: train, evaluate and probe TextRNN/TextRCNN news-title classifiers.",
        epilog="Exit status: 0 ok, 2 bad input (one 'error:' line on stderr), 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"rnnviz {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    # -- train
    p = sub.add_parser(
        "train", help="train a classifier on THUCNews and save a checkpoint",
        description="Train TextRNN or TextRCNN on DIR/train.txt, keep the best weights on "
        "DIR/dev.txt, print the dev report and save a .safetensors checkpoint. Ctrl-C stops "
        "early and still saves the best weights (exit status 130).",
    )
    p.add_argument("--model", required=True, choices=("textrnn", "textrcnn"))
    p.add_argument("--data-dir", type=Path, default=None,
                   help=f"a THUCNews folder (train.txt, dev.txt, class.txt) or the data root "
                   f"holding thucnews/ (default: ${DATA_DIR_ENV}, else ../shared/data, else where "
                   f"`download` puts it: ~/.cache/rnnviz/data)")
    p.add_argument("--cell", default="lstm", choices=("lstm", "gru", "rnn"), help="(default: %(default)s)")
    p.add_argument("--tokenizer", default="char", choices=("char", "word"),
                   help="char, or jieba words (default: %(default)s)")
    p.add_argument("--device", default="auto", choices=DEVICES, help="(default: %(default)s)")
    p.add_argument("--out", type=Path, default=None,
                   help="checkpoint file (default: runs/<model>-<cell>.safetensors)")
    p.add_argument("--train-limit", type=POSITIVE_INT, default=None, metavar="N",
                   help="use only the first N training lines (quick runs)")
    p.add_argument("--dev-limit", type=POSITIVE_INT, default=None, metavar="N",
                   help="use only the first N dev lines (quick runs)")
    p.add_argument("--threads", type=POSITIVE_INT, default=None,
                   help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_options(p.add_argument_group("model"), MODEL_OPTIONS, _model_default)
    _add_options(p.add_argument_group("training"), TRAIN_OPTIONS, _train_default)
    p.set_defaults(handler=cmd_train)

    # -- evaluate
    p = sub.add_parser(
        "evaluate", help="score a checkpoint on a labelled file",
        description="Accuracy, per-class precision/recall/F1 and the confusion matrix of a "
        "checkpoint on a THUCNews-format (text<TAB>id) or cnews-format (label<TAB>text) file.",
    )
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--classes", type=Path, default=None,
                   help="class.txt for a THUCNews-format file (default: the one beside it, "
                   "else the checkpoint's classes)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default="auto", choices=DEVICES, help="(default: %(default)s)")
    p.add_argument("--lang", default="zh", choices=("zh", "en"), help="class names in the table")
    p.set_defaults(handler=cmd_evaluate)

    # -- predict
    p = sub.add_parser(
        "predict", help="classify one text",
        description="Classify TEXT ('-' reads it from stdin) with a checkpoint.",
    )
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: label, probabilities, tokens, trace")
    p.add_argument("--lang", default="zh", choices=("zh", "en"), help="class names in the summary")
    p.add_argument("text", nargs="+", metavar="TEXT", help="the text (words are joined with spaces)")
    p.set_defaults(handler=cmd_predict)

    # -- download
    p = sub.add_parser(
        "download", help="fetch the public THUCNews title split",
        description="Download and verify a dataset into DEST/<name>/.",
    )
    p.add_argument("name", choices=("thucnews",))
    p.add_argument("--dest", type=Path, default=None,
                   help=f"target folder (default: ${DATA_DIR_ENV} if set, else ~/.cache/rnnviz/data)")
    p.add_argument("--source", default=None,
                   help="a mirror: http(s)://, file:// or a local folder (default: GitHub)")
    p.set_defaults(handler=cmd_download)
    return parser


# ---- output --------------------------------------------------------------------------------


def _print_json(obj: Any) -> None:
    # Chinese as is on a UTF-8 terminal; escaped where stdout could not encode it.
    utf8 = (sys.stdout.encoding or "").lower().replace("-", "") == "utf8"
    print(json.dumps(obj, ensure_ascii=not utf8))


def _note(message: str) -> None:
    print(message, file=sys.stderr)


def _note_skipped(report: Any) -> None:
    """One stderr line when lenient loading skipped lines (the first problem named)."""
    if report.issues_total:
        first = report.issues[0].describe("en") if report.issues else ""
        _note(f"note: {report.summary('en')}; first problem: {first}")


# ---- train ---------------------------------------------------------------------------------


@contextmanager
def ctrl_c_stops(control: TrainerControl) -> Iterator[None]:
    """While active, the first Ctrl-C asks the loop to stop (the best weights are kept);
    a second one raises KeyboardInterrupt as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        control.stop(INTERRUPTED)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _note("\nstopping after this step and keeping the best weights (Ctrl-C again to abort)")

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _split_exists(root: Path, split: str) -> bool:
    return (root / f"{split}.txt").is_file() or (root / "thucnews" / f"{split}.txt").is_file()


def _default_train_dir() -> Path:
    """The data directory, or where ``download`` put the data when that has none."""
    root = data_dir()
    cache = download_dir()
    if not _split_exists(root, "train") and _split_exists(cache, "train"):
        return cache
    return root


def _writable_target(path: Path) -> Path:
    """Check before a long run that the checkpoint can be written there (save() makes the
    missing folders)."""
    if path.is_dir():
        raise RnnVizError("is a folder; give a file name such as model.safetensors", where=str(path))
    existing = path.absolute().parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise RnnVizError(f"cannot write the checkpoint under {existing}", where=str(path))
    return path


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from rnnviz.core.callbacks import PrintProgress, TrainerControl
    from rnnviz.core.checkpoint import Checkpoint
    from rnnviz.core.data import display_class, load_split
    from rnnviz.core.metrics import format_report
    from rnnviz.core.models import ModelConfig, count_parameters
    from rnnviz.core.train import TrainConfig, resolve_device, train

    if args.threads:
        torch.set_num_threads(args.threads)  # once per process, before any work
    model_config = ModelConfig.for_model(
        args.model, cell=args.cell, tokenizer=args.tokenizer, **_chosen(args, MODEL_OPTIONS)
    )
    train_config = TrainConfig(device=args.device, **_chosen(args, TRAIN_OPTIONS))
    device = resolve_device(args.device)  # a missing GPU fails now, not after loading data
    out = _writable_target(args.out or Path("runs") / f"{args.model}-{args.cell}.safetensors")

    root = args.data_dir if args.data_dir is not None else _default_train_dir()
    train_set, report = load_split(root, "train")
    _note_skipped(report)
    if args.train_limit:
        train_set = train_set.subset(args.train_limit)
    dev_set = None
    if _split_exists(root, "dev"):
        dev_set, report = load_split(root, "dev")
        _note_skipped(report)
        if args.dev_limit:
            dev_set = dev_set.subset(args.dev_limit)
    else:
        _note(f"note: no dev.txt under {root}: no early stopping, the last weights are kept")

    what = f"{args.model} ({args.cell}, {args.tokenizer})"
    _note(f"training {what} on {len(train_set)} texts, dev {len(dev_set) if dev_set else 0}, "
          f"device {device}, {torch.get_num_threads()} threads")
    control = TrainerControl()
    callbacks = [] if args.quiet else [PrintProgress(sys.stderr)]
    with ctrl_c_stops(control):
        result = train(model_config, train_config, train_set, dev_set, callbacks, control)
    interrupted = control.reason == INTERRUPTED
    state = result.state
    if state is None or state.step == 0:
        _note("stopped before the first training step: nothing to save")
        return EXIT_INTERRUPTED if interrupted else 1

    if result.dev_report is not None:
        names = [display_class(c, "zh") for c in result.classes]
        print(format_report(result.dev_report, names))
    info = {
        "data_dir": str(root), "train_examples": len(train_set),
        "dev_examples": len(dev_set) if dev_set else 0, "steps": state.step,
        "stop_reason": state.stop_reason,
    }
    checkpoint = Checkpoint.from_train_result(result, info=info)
    path = checkpoint.save(out)
    best = (f"best dev accuracy {state.best_dev_accuracy:.4f} at step {state.best_step}"
            if result.dev_report is not None else f"last weights after step {state.step}")
    print(f"saved checkpoint {path} ({best}, {count_parameters(checkpoint.model):,} parameters, "
          f"{result.seconds:.1f}s on {result.device})")
    if interrupted:
        _note("training was interrupted; the checkpoint holds the best weights seen")
        return EXIT_INTERRUPTED
    return 0


# ---- evaluate ------------------------------------------------------------------------------


def align_classes(dataset: Dataset, classes: Sequence[str]) -> Dataset:
    """The dataset with its label ids renumbered to the checkpoint's class order.

    Every class the data declares must be one the model knows (a subset is fine: a file
    holding only some classes).
    """
    from rnnviz.core.data import Dataset

    index = {c: i for i, c in enumerate(classes)}
    unknown = [c for c in dataset.classes if c not in index]
    if unknown:
        raise RnnVizError(
            f"the data's classes {unknown} are not the checkpoint's classes {list(classes)}",
            where=dataset.source,
        )
    labels = [index[dataset.classes[y]] for y in dataset.labels]
    return Dataset(dataset.texts, labels, list(classes), dataset.source)


def load_eval_data(path: Path, checkpoint: Checkpoint, classes_file: Path | None) -> Dataset:
    """A labelled file in either format, strictly (a bad line or unknown label is an error),
    with its labels in the checkpoint's class order."""
    from rnnviz.core.data import CLASS_FILE, detect_format, load_dataset

    fmt = detect_format(path)
    classes: Any = classes_file
    if classes is None:
        beside = path.parent / CLASS_FILE
        if fmt == "cnews" or not beside.is_file():
            # cnews labels are names: check them against the model's; a THUCNews file with
            # no class.txt is read with the model's own id -> name list.
            classes = list(checkpoint.classes)
            if fmt == "thucnews":
                _note(f"note: no {CLASS_FILE} beside {path}: label ids read as the checkpoint's "
                      f"classes {classes}")
        else:
            classes = beside
    dataset, _ = load_dataset(path, classes=classes, fmt=fmt, strict=True)
    return align_classes(dataset, checkpoint.classes)


def evaluate_checkpoint(checkpoint: Checkpoint, dataset: Dataset, device: str = "auto",
                        batch_size: int = 256) -> EvalReport:
    """Score ``checkpoint`` on ``dataset`` (labels in the checkpoint's class order).

    Texts are read as at prediction time: the first ``config.max_len`` tokens.
    """
    from rnnviz.core.text import make_tokenizer
    from rnnviz.core.train import encode_corpus, evaluate_batches, make_batches, resolve_device

    dev = resolve_device(device)
    config = checkpoint.config
    ids = encode_corpus(dataset.texts, make_tokenizer(config.tokenizer), checkpoint.vocab, config.max_len)
    batches = make_batches(ids, dataset.labels, batch_size, shuffle=False, bucket=True)
    model = checkpoint.model.to(dev)
    try:
        return evaluate_batches(model, batches, list(checkpoint.classes), dev)
    finally:
        model.cpu()


def cmd_evaluate(args: argparse.Namespace) -> int:
    from rnnviz.core.checkpoint import load_checkpoint
    from rnnviz.core.data import display_class
    from rnnviz.core.metrics import format_report

    checkpoint = load_checkpoint(args.checkpoint)
    dataset = load_eval_data(args.data, checkpoint, args.classes)
    report = evaluate_checkpoint(checkpoint, dataset, args.device)
    if args.json:
        _print_json(report.to_json())
    else:
        print(format_report(report, [display_class(c, args.lang) for c in report.classes]))
    return 0


# ---- predict -------------------------------------------------------------------------------


def _summary(result: dict, lang: str) -> str:
    """Label, top-3 probabilities, the tokens the model read and a truncation notice."""
    from rnnviz.core.data import display_class

    def named(name: str) -> str:
        shown = display_class(name, lang)
        return name if shown == name else f"{name} ({shown})"

    probs = sorted(result["probabilities"].items(), key=lambda kv: -kv[1])
    lines = [f"label: {named(result['label'])}"]
    lines += [f"  {p:7.2%}  {named(name)}" for name, p in probs[:3]]
    tokens = result["tokens"]
    lines.append(f"tokens ({len(tokens)}): {' '.join(tokens)}")
    if result.get("truncated"):
        lines.append(f"note: the text was cut to its first {len(tokens)} tokens "
                     f"(of {result.get('total_tokens', '?')})")
    unknown = sum(result.get("unknown", []))
    if unknown:
        lines.append(f"note: {unknown} token(s) are not in the vocabulary (the model read <UNK>)")
    return "\n".join(lines)


def cmd_predict(args: argparse.Namespace) -> int:
    from rnnviz.core.predict import Predictor

    text = " ".join(args.text)
    if text == "-":
        text = sys.stdin.read()
    predictor = Predictor.from_file(args.checkpoint)
    result = predictor.predict(text, with_trace=args.json).to_json()
    if args.json:
        _print_json(result)
    else:
        print(_summary(result, args.lang))
    return 0


# ---- download ------------------------------------------------------------------------------


def cmd_download(args: argparse.Namespace) -> int:
    from rnnviz.core.download import download_dataset, tqdm_progress

    dest = args.dest if args.dest is not None else download_dir()
    progress = tqdm_progress()
    try:
        folder = download_dataset(args.name, dest, base_url=args.source, progress=progress)
    finally:
        progress.close()
    print(f"{args.name} is in {folder}")
    print(f"train on it:  python -m rnnviz train --model textrnn --data-dir {folder}")
    print(f"or for the app and the tests:  export {DATA_DIR_ENV}={Path(dest).expanduser()}")
    return 0


# ---- entry point ---------------------------------------------------------------------------


def _fail(message: str, status: int = EXIT_USAGE) -> int:
    print("error: " + " ".join(message.split()), file=sys.stderr)  # one line, whatever it held
    return status


def _os_message(exc: OSError) -> str:
    what = exc.strerror or exc.__class__.__name__
    return f"{exc.filename}: {what}" if exc.filename else what


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (0, 2 bad input, 130 interrupted)."""
    for stream in (sys.stdout, sys.stderr):
        # Never die on a terminal that cannot show Chinese: escape instead.
        encoding = (getattr(stream, "encoding", "") or "").lower().replace("-", "")
        if encoding != "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except RnnVizError as exc:
        return _fail(str(exc))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        return _fail(_os_message(exc))
    except UnicodeDecodeError as exc:
        return _fail(f"not valid UTF-8 ({exc.reason} at byte {exc.start})")
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as other Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
