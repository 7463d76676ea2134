"""Benchmark: training speed (samples/s) and time to the best dev accuracy, TextRNN and TextRCNN.

    python bench/train_speed.py [--epochs 2] [--train-limit N] [--dev-limit N] [--threads 2]

Runs, in one process on the same data, device and threads:
  baseline  - the classic reference configuration of Chinese-Text-Classification-Pytorch's
              TextRNN: 2-layer BiLSTM, embed 300, hidden 128, last time step, texts cut to 32
              characters, no length bucketing, batch 128, Adam lr 1e-3, constant LR, dropout 0.5
              (their fixed pad-to-32 is approximated by padding each batch to its longest
              text, which for a random batch of 128 titles is nearly always ~32);
  textrnn   - our TextRNN with the shipped defaults (ModelConfig/TrainConfig: 2-layer BiLSTM,
              char + bigram embeddings, max pooling, length bucketing, warm-up + cosine LR);
  textrcnn  - our TextRCNN with the shipped defaults (ModelConfig.for_model("textrcnn"));
and prints, for each, the samples/s of the training steps (dev evaluations excluded), the best
dev accuracy, the step and wall time at which it was reached, and the ratios to the baseline.
Data: $RNNVIZ_DATA_DIR (or ../shared/data)/thucnews. A benchmark, not a test: never asserts.
Samples/s by device (CPU vs GPU) and by number of processes (torchrun): bench/train_scale.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from splits import add_split_arguments, load_splits  # noqa: E402

from rnnviz.core.callbacks import TrainerCallback, TrainerControl, TrainerState  # noqa: E402
from rnnviz.core.models import ModelConfig, count_parameters  # noqa: E402
from rnnviz.core.train import TrainConfig, train  # noqa: E402

# name -> (model settings, training settings); the run-wide flags are added on top.
RUNS: dict[str, tuple[dict, dict]] = {
    "baseline": (
        dict(model="textrnn", cell="lstm", embed_dim=300, hidden_size=128, num_layers=2,
             bidirectional=True, pooling="last", dropout=0.5, embed_dropout=0.0),
        dict(batch_size=128, lr=1e-3, warmup_steps=0, schedule="constant", max_train_len=32,
             bucket=False, clip_norm=0.0),
    ),
    "textrnn": (dict(model="textrnn"), dict(max_bigrams=18000)),  # as shipped (README)
    "textrcnn": (dict(model="textrcnn"), {}),
}


class StepClock(TrainerCallback):
    """Splits wall time into training steps and dev evaluations (evaluate runs right after
    the step_end of the step it follows)."""

    def __init__(self) -> None:
        self.eval_s = 0.0
        self._last_step_end = 0.0

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        self._last_step_end = time.perf_counter()

    def on_evaluate(self, state: TrainerState, control: TrainerControl) -> None:
        self.eval_s += time.perf_counter() - self._last_step_end


@dataclass
class Outcome:
    name: str
    params: int
    steps: int
    samples_per_s: float
    best_dev: float
    best_step: int
    time_to_best_s: float
    total_s: float
    stop: str


def run_one(name: str, args: argparse.Namespace, train_set, dev_set) -> Outcome:
    model_kw, train_kw = RUNS[name]
    model_config = ModelConfig.for_model(**model_kw)
    train_config = TrainConfig(**{
        **train_kw, "epochs": args.epochs, "eval_every": args.eval_every, "seed": args.seed,
        "device": args.device, "patience": args.patience,
    })
    clock = StepClock()
    result = train(model_config, train_config, train_set, dev_set, [clock])
    state = result.state
    assert state is not None
    # The last batch of an epoch may be short: count the examples really seen.
    per_epoch = -(-len(train_set) // train_config.batch_size)
    full, part = divmod(state.step, per_epoch)
    samples = full * len(train_set) + min(part * train_config.batch_size, len(train_set))
    train_s = result.seconds - clock.eval_s
    best = next(h for h in result.history if h["step"] == state.best_step)
    print(f"  {name}: {model_config.model} {model_config.cell} x{model_config.num_layers} "
          f"hidden {model_config.hidden_size} embed {model_config.embed_dim}, "
          f"batch {train_config.batch_size}, lr {train_config.lr}, max_train_len "
          f"{train_config.max_train_len}, bucket {train_config.bucket}: "
          f"done in {result.seconds:.1f}s")
    return Outcome(
        name=name, params=count_parameters(result.model), steps=state.step,
        samples_per_s=samples / max(train_s, 1e-9), best_dev=state.best_dev_accuracy,
        best_step=state.best_step, time_to_best_s=best["elapsed_s"], total_s=result.seconds,
        stop=state.stop_reason or "finished",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_split_arguments(parser)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--eval-every", type=int, default=0, help="steps (0 = once per epoch)")
    parser.add_argument("--patience", type=int, default=0, help="0 = run every epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=["textrnn", "textrcnn"],
                        choices=["textrnn", "textrcnn"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    root, train_set, dev_set = load_splits(args)
    print(f"data {root}: train {len(train_set)}, dev {len(dev_set)}; epochs {args.epochs}, "
          f"eval every {args.eval_every or 'epoch'}, patience {args.patience}, threads "
          f"{torch.get_num_threads()}, device {args.device}, torch {torch.__version__}, "
          f"seed {args.seed}")

    outcomes = [run_one(name, args, train_set, dev_set) for name in ["baseline", *args.models]]
    base = outcomes[0]
    print(f"{'run':<10}{'params':>11}{'steps':>7}{'samples/s':>11}{'x base':>8}{'best dev':>10}"
          f"{'@ step':>8}{'to best':>9}{'x base':>8}  stop")
    for o in outcomes:
        print(f"{o.name:<10}{o.params:>11,}{o.steps:>7}{o.samples_per_s:>11.0f}"
              f"{o.samples_per_s / base.samples_per_s:>8.2f}{o.best_dev:>10.4f}{o.best_step:>8}"
              f"{o.time_to_best_s:>8.1f}s{o.time_to_best_s / max(base.time_to_best_s, 1e-9):>8.2f}"
              f"  {o.stop}")
    print("samples/s: training steps only (dev evaluations excluded); 'to best': wall time from "
          "the start of train() to the evaluation that scored best (evaluations included).")


if __name__ == "__main__":
    main()
