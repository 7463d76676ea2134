"""Command line: ``python -m rnnviz {train,evaluate,predict,download}``.

    python -m rnnviz train --model {textrnn,textrcnn} --data-dir DIR [--cell lstm] [--out FILE]
    python -m rnnviz evaluate --checkpoint FILE --data FILE [--classes FILE] [--json]
    python -m rnnviz predict --checkpoint FILE [--json] TEXT
    python -m rnnviz download thucnews [--dest DIR] [--source URL]

``train``'s model and training flags are the fields of ``ModelConfig`` and ``TrainConfig``
(rnnviz/core/config.py): their help texts, defaults and rules. A flag left out is not passed
on, so the dataclass default (or the model's preset) applies.

Exit status: 0 done; 2 bad input (an ``RnnVizError``, a missing or unreadable file, or an
argparse usage error), reported as ONE line ``error: ...`` on stderr, never a traceback;
130 interrupted. Ctrl-C during training stops at the end of the current step, keeps the best
dev weights seen so far, prints the report, saves the checkpoint and exits with 130 (the
shell's code for SIGINT) so scripts can tell a cut-short run; a second Ctrl-C aborts at once
without saving.

Under torchrun (``torchrun --nproc-per-node N -m rnnviz train ...``, rnnviz/core/distributed.py)
each process is one rank: the same flags (``--batch-size`` per process), rank 0 alone prints
and saves, every rank stops at the same step. A rank that fails prints ``error: rank R of N
failed: ...`` and exits 1 (2 for bad input); rank 0 then saves the best weights seen, names
that rank and exits 1.

Heavy imports (torch) happen inside the commands, so ``--help`` and ``download`` start fast.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnviz import __version__
from rnnviz.core.config import (
    DEVICES,
    MODELS,
    POSITIVE_INT,
    ModelConfig,
    Rule,
    TrainConfig,
)
from rnnviz.errors import RnnVizError
from rnnviz.i18n import LANGUAGES
from rnnviz.paths import DATA_DIR_ENV, data_dir, download_dir

if TYPE_CHECKING:
    from rnnviz.core.callbacks import TrainerControl

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
INTERRUPTED = "interrupted (Ctrl-C)"
TERMINATED = "terminated (SIGTERM)"
Options = dict[str, tuple[str, dict[str, Any]]]  # --flag -> (config field, argparse keywords)


# ---- train's flags, from the config fields ---------------------------------------------------


def _parse_with(rule: Rule, name: str) -> Callable[[str], Any]:
    """An argparse type: the text read as the rule's number and refused as the config would."""

    def parse(text: str) -> Any:
        try:
            value = rule.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a valid {rule.kind.__name__}") from None
        problem = rule.problem(name, value)
        if problem:
            raise argparse.ArgumentTypeError(f"{problem}, got {text}")
        return value

    return parse


def config_options(config: type[ModelConfig] | type[TrainConfig]) -> Options:
    """The flags of the fields of ``config`` that declare one, in field order: a choice list,
    an on/off switch or a checked number, with the field's help text and default."""
    options: Options = {}
    for f in fields(config):
        flag = f.metadata.get("flag")
        if flag is None:
            continue
        rule: Rule = f.metadata["rule"]
        shown = f"{f.metadata['help']} (default: {f.default})"
        kwargs: dict[str, Any] = {"help": shown.replace("%", "%%")}  # argparse formats with %
        if rule.choices:
            kwargs["choices"] = rule.choices
        elif rule.kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = _parse_with(rule, f.name)
            kwargs["metavar"] = flag[2:].upper().replace("-", "_")
        options[flag] = (f.name, kwargs)
    return options


MODEL_OPTIONS = config_options(ModelConfig)
TRAIN_OPTIONS = config_options(TrainConfig)
BESIDE_MODEL = ("--cell", "--tokenizer", "--device")  # listed with --model, the others grouped


def _add_options(group: argparse._ActionsContainer, options: Options) -> None:
    for flag, (field, kwargs) in options.items():
        # None = not given: the dataclass default (or the model's preset) decides.
        group.add_argument(flag, dest=f"opt_{field}", default=None, **kwargs)


def _chosen(args: argparse.Namespace, options: Options) -> dict[str, Any]:
    """The config fields the user set on the command line."""
    values = {field: getattr(args, f"opt_{field}") for field, _ in options.values()}
    return {field: value for field, value in values.items() if value is not None}


def _pick(options: Options, flags: tuple[str, ...], keep: bool) -> Options:
    return {flag: spec for flag, spec in options.items() if (flag in flags) == keep}


def build_parser() -> argparse.ArgumentParser:
    from rnnviz.core.download import DATASETS  # no torch there

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
        "early and still saves the best weights (exit status 130). Several processes: "
        "`torchrun --nproc-per-node N -m rnnviz train ...` trains with DistributedDataParallel "
        "(gloo on the CPU, nccl on CUDA); --batch-size is then per process, the global batch "
        "is N times it, and rank 0 evaluates, prints and saves.",
    )
    model_help = next(f.metadata["help"] for f in fields(ModelConfig) if f.name == "model")
    p.add_argument("--model", required=True, choices=MODELS, help=model_help)
    p.add_argument("--data-dir", type=Path, default=None,
                   help=f"a THUCNews folder (train.txt, dev.txt, class.txt) or the data root "
                   f"holding thucnews/ (default: ${DATA_DIR_ENV}, else ../shared/data, else "
                   f"where `download` puts it: ~/.cache/rnnviz/data)")
    _add_options(p, _pick({**MODEL_OPTIONS, **TRAIN_OPTIONS}, BESIDE_MODEL, keep=True))
    p.add_argument("--out", type=Path, default=None,
                   help="checkpoint file (default: runs/<model>-<cell>.safetensors)")
    count = _parse_with(POSITIVE_INT, "count")
    p.add_argument("--train-limit", type=count, default=None, metavar="N",
                   help="use only the first N training lines (quick runs)")
    p.add_argument("--dev-limit", type=count, default=None, metavar="N",
                   help="use only the first N dev lines (quick runs)")
    p.add_argument("--threads", type=count, default=None,
                   help="CPU threads for torch, per process (default: torch's choice; "
                   "torchrun sets 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_options(p.add_argument_group("model"), _pick(MODEL_OPTIONS, BESIDE_MODEL, keep=False))
    _add_options(p.add_argument_group("training"), _pick(TRAIN_OPTIONS, BESIDE_MODEL, keep=False))
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
    p.add_argument("--lang", default="zh", choices=LANGUAGES, help="class names in the table")
    p.set_defaults(handler=cmd_evaluate)

    # -- predict
    p = sub.add_parser(
        "predict", help="classify one text",
        description="Classify TEXT ('-' reads it from stdin) with a checkpoint.",
    )
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: label, probabilities, tokens, trace")
    p.add_argument("--lang", default="zh", choices=LANGUAGES,
                   help="class names in the summary")
    p.add_argument("text", nargs="+", metavar="TEXT",
                   help="the text (words are joined with spaces)")
    p.set_defaults(handler=cmd_predict)

    # -- download
    p = sub.add_parser(
        "download", help="fetch the public THUCNews title split",
        description="Download and verify a dataset into DEST/<name>/.",
    )
    p.add_argument("name", choices=tuple(DATASETS))
    p.add_argument("--dest", type=Path, default=None,
                   help=f"target folder (default: ${DATA_DIR_ENV} if set, else "
                   "~/.cache/rnnviz/data)")
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
def ctrl_c_stops(control: TrainerControl, *, sigterm: bool = False,
                 speak: bool = True) -> Iterator[None]:
    """While active, the first Ctrl-C asks the loop to stop (the best weights are kept);
    a second one raises KeyboardInterrupt as usual. ``sigterm``: SIGTERM too (a distributed
    rank: torchrun's agent sends it when another rank failed, and rank 0 should still save).
    ``speak``: say so on stderr (rank 0 only, in a distributed run)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    signals = {signal.SIGINT: (INTERRUPTED, signal.default_int_handler)}
    if sigterm:
        signals[signal.SIGTERM] = (TERMINATED, signal.SIG_DFL)
    previous = {signum: signal.getsignal(signum) for signum in signals}

    def handler(signum: int, frame: Any) -> None:
        reason, then = signals[signum]
        control.stop(reason)
        signal.signal(signum, then)
        if speak:
            _note("\nstopping after this step and keeping the best weights (Ctrl-C again to "
                  "abort)")

    for signum in signals:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _writable_target(path: Path) -> Path:
    """Check before a long run that the checkpoint can be written there (save() makes the
    missing folders)."""
    if path.is_dir():
        raise RnnVizError("is a folder; give a file name such as model.safetensors",
                          where=str(path))
    existing = path.absolute().parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise RnnVizError(f"cannot write the checkpoint under {existing}", where=str(path))
    return path


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from rnnviz.core import distributed
    from rnnviz.core.train import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)  # once per process, before any work
    model_config = ModelConfig.for_model(args.model, **_chosen(args, MODEL_OPTIONS))
    train_config = TrainConfig(**_chosen(args, TRAIN_OPTIONS))
    device = resolve_device(train_config.device)  # a missing GPU fails now, not after the data
    out = args.out or Path("runs") / f"{args.model}-{model_config.cell}.safetensors"
    if os.environ.get("RANK", "0") == "0":  # only rank 0 (or the one process) writes it
        out = _writable_target(out)
    with distributed.session(device) as ctx:  # torchrun: join the group; else nothing
        if not ctx.distributed:
            return _train(args, model_config, train_config, out, ctx)
        try:
            return _train(args, model_config, train_config, out, ctx)
        except Exception as exc:
            # One line naming this rank (torchrun's summary shows the traceback); the other
            # ranks see their next collective fail, and rank 0 saves what it has.
            _note("error: " + ctx.report_failure(exc))
            bad_input = (RnnVizError, FileNotFoundError, PermissionError, UnicodeDecodeError)
            return EXIT_USAGE if isinstance(exc, bad_input) else 1


def _train(args: argparse.Namespace, model_config: ModelConfig, train_config: TrainConfig,
           out: Path, ctx: Any) -> int:
    """``train`` for one process or one rank of a torchrun group (``ctx``): every rank
    loads the data and trains its shard; rank 0 alone prints and saves."""
    import torch

    from rnnviz.core import precision
    from rnnviz.core.callbacks import PrintProgress, TrainerControl
    from rnnviz.core.classes import display_class
    from rnnviz.core.data import find_thucnews, load_split, thucnews_folder
    from rnnviz.core.metrics import format_report
    from rnnviz.core.models import count_parameters
    from rnnviz.core.train import resolve_device
    from rnnviz.core.training_run import train_to_checkpoint

    main = ctx.is_main
    note = _note if main else (lambda message: None)
    device = ctx.place(resolve_device(train_config.device))
    cell, tokenizer = model_config.cell, model_config.tokenizer

    # Default: the data directory, or where ``download`` put the data when that has none.
    root = args.data_dir if args.data_dir is not None else find_thucnews() or data_dir()
    train_set, report = load_split(root, "train")
    if main:
        _note_skipped(report)
    if args.train_limit:
        train_set = train_set.subset(args.train_limit)
    dev_set = None
    if thucnews_folder(root, "dev.txt") is not None:
        dev_set, report = load_split(root, "dev")
        if main:
            _note_skipped(report)
        if args.dev_limit:
            dev_set = dev_set.subset(args.dev_limit)
    else:
        note(f"note: no dev.txt under {root}: no early stopping, the last weights are kept")

    source: dict[str, Any] = {"data_dir": str(root)}
    how = f"device {device}, {torch.get_num_threads()} threads"
    if precision.amp_dtype(device) is not None:
        source["precision"] = precision.describe(device)
        how += f", {source['precision']}"
    if ctx.distributed:
        batch = train_config.batch_size
        source.update(processes=ctx.world_size, backend=ctx.backend,
                      global_batch_size=batch * ctx.world_size)
        how += (f" per process; {ctx.world_size} processes ({ctx.backend}), global batch "
                f"{batch * ctx.world_size} = {batch} per process x {ctx.world_size}")
    note(f"training {args.model} ({cell}, {tokenizer}) on {len(train_set)} texts, "
         f"dev {len(dev_set) if dev_set else 0}, {how}")
    control = TrainerControl()
    callbacks = [] if args.quiet or not main else [PrintProgress(sys.stderr)]
    with ctrl_c_stops(control, sigterm=ctx.distributed, speak=main):
        run = train_to_checkpoint(model_config, train_config, train_set, dev_set, callbacks,
                                  control, source=source)
        # Still inside: torchrun's agent sends SIGTERM once another rank failed, and it may
        # come while rank 0 saves; taken as a stop request it cannot cut the save short.
        interrupted = control.reason.startswith(INTERRUPTED)
        status = EXIT_INTERRUPTED if interrupted else 0
        if ctx.failure:  # another rank failed: keep what we have, then fail
            status = 1
        if not main:
            return status
        result, state, checkpoint = run.result, run.state, run.checkpoint
        if checkpoint is None:
            _note("stopped before the first training step: nothing to save")
            if ctx.failure:
                _note(f"error: {ctx.failure}")
            return status or 1

        if result.dev_report is not None:
            names = [display_class(c, "zh") for c in result.classes]
            print(format_report(result.dev_report, names))
        path = checkpoint.save(out)
        best = (f"best dev accuracy {state.best_dev_accuracy:.4f} at step {state.best_step}"
                if result.dev_report is not None else f"last weights after step {state.step}")
        print(f"saved checkpoint {path} ({best}, {count_parameters(checkpoint.model):,} "
              f"parameters, {result.seconds:.1f}s on {result.device})", flush=True)
        if ctx.failure:
            _note(f"error: {ctx.failure}; the checkpoint holds the best weights seen before it")
        elif interrupted:
            _note("training was interrupted; the checkpoint holds the best weights seen")
        return status


# ---- evaluate ------------------------------------------------------------------------------


def cmd_evaluate(args: argparse.Namespace) -> int:
    from rnnviz.core.checkpoint import load_checkpoint
    from rnnviz.core.classes import display_class
    from rnnviz.core.evaluate import evaluate_checkpoint, load_eval_data
    from rnnviz.core.metrics import format_report

    checkpoint = load_checkpoint(args.checkpoint)
    dataset = load_eval_data(args.data, checkpoint, args.classes, note=_note)
    report = evaluate_checkpoint(checkpoint, dataset, args.device)
    if args.json:
        _print_json(report.to_json())
    else:
        names = [display_class(c, args.lang) for c in report.classes]
        print(format_report(report, names, split=args.data.name))  # what was scored, by name
    return 0


# ---- predict -------------------------------------------------------------------------------


def _summary(result: dict, lang: str) -> str:
    """Label, top-3 probabilities, the tokens the model read and a truncation notice."""
    from rnnviz.core.classes import display_class

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
