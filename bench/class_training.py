"""Benchmark: what the training pages' presets reach, from pressing the button to a scored model.

    python bench/class_training.py [--models textrnn textrcnn] [--budgets 30 60 120]
                                   [--two-jobs-budget 60] [--no-quick] [--out FILE | --no-write]

Runs, in one process on the same data and machine, each exactly as the page runs it (a job of
ui/jobs.py's JobRunner calling rnnviz.jobs.training.train_in_subprocess: a child process whose
torch threads are its share of the cores among the running jobs), timed from the job's start
(the button) to the checkpoint back in this process:
  class      - the class preset (rnnviz/jobs/class_preset.py) at each budget, training alone;
  quick      - today's quick run (the custom widgets as they start: 5,000 titles, 3 epochs, a
               small model; its page reports 1,000 dev titles, here its checkpoint is also
               scored on the whole dev set);
  class x 2  - two class-preset runs of the same model started together (one core each on a
               2-core machine: the budget is wall-clock, so each reaches less);
and prints each run's accuracy on the whole dev set, its seconds, steps and epochs. Beside them:
a full run (the shipped checkpoints' own dev accuracy and training time) and the classic
implementations' figures (README). Writes the JSON the training pages read
(assets/benchmarks/class_training.json) and prints the table for the README.
Data: $RNNVIZ_DATA_DIR (or ../shared/data)/thucnews. A benchmark, not a test: never asserts.
Run it on a quiet machine: every figure is wall-clock time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from rnnviz.core.checkpoint import load_checkpoint  # noqa: E402
from rnnviz.core.data import load_split, thucnews_folder  # noqa: E402
from rnnviz.core.evaluate import evaluate_checkpoint  # noqa: E402
from rnnviz.core.jsonfile import write_json  # noqa: E402
from rnnviz.jobs.class_preset import BENCH_FILE, class_spec, quick_spec  # noqa: E402
from rnnviz.jobs.process import available_cores, machine_cores, threads_for  # noqa: E402
from rnnviz.jobs.training import TrainingOutcome, TrainingSpec, train_in_subprocess  # noqa: E402
from rnnviz.paths import MODELS_DIR, data_dir  # noqa: E402
from ui.jobs import Job, JobRunner  # noqa: E402

# The classic implementations (Chinese-Text-Classification-Pytorch's TextRNN and TextRCNN) as
# measured on this data after minutes of training: README, "Shipped models and how they were
# made" (bench/train_speed.py's baseline reproduces the TextRNN one).
PEER = {"textrnn": 0.859, "textrcnn": 0.868}


def run_jobs(specs: list[TrainingSpec], runner: JobRunner) -> list[tuple[Job, TrainingOutcome]]:
    """Start every spec at once as the page does, beat their heartbeats, wait for them all."""
    jobs = [runner.start(f"bench{i}", train_in_subprocess, spec,
                         threads=lambda: threads_for(runner.counts()[0]))
            for i, spec in enumerate(specs)]
    while not all(job.finished for job in jobs):
        for job in jobs:
            job.beat()  # the page's live view does this; without it a job stops after 30 s
        time.sleep(0.2)
    for job in jobs:
        if job.error:
            raise SystemExit(f"run failed: {job.error}")
    return [(job, job.result) for job in jobs]


def record(model: str, preset: str, budget_s: float, jobs: int, job: Job, spec: TrainingSpec,
           outcome: TrainingOutcome, dev_set, threads: int) -> dict:
    """One run as the JSON holds it; accuracy on the whole dev set (the checkpoint scored
    here when the run reported on a sample)."""
    report = outcome.report
    if report is None or report.n != len(dev_set):
        report = evaluate_checkpoint(outcome.checkpoint, dev_set, device="cpu")
    return {
        "model": model, "preset": preset, "budget_s": budget_s, "jobs": jobs,
        "threads": threads, "dev_accuracy": round(report.accuracy, 4),
        "dev_examples": report.n,
        "page_accuracy": round(outcome.report.accuracy, 4) if outcome.report else None,
        "page_dev_examples": outcome.dev_examples, "seconds": round(job.elapsed_s, 1),
        "train_s": round(outcome.seconds, 1), "steps": outcome.steps,
        "epochs": round(outcome.steps / max(1, -(-outcome.train_examples
                                                // spec.train_config.batch_size)), 2),
        "train_examples": outcome.train_examples, "stop": outcome.stop_reason or "finished",
    }


def full_runs() -> dict:
    """The shipped checkpoints' dev accuracy and training time (their own figures)."""
    out = {}
    for model in ("textrnn", "textrcnn"):
        path = MODELS_DIR / f"{model}.safetensors"
        if not path.is_file():
            continue
        checkpoint = load_checkpoint(path)
        if checkpoint.metrics is None:
            continue
        out[model] = {"dev_accuracy": round(float(checkpoint.metrics["accuracy"]), 4),
                      "seconds": float(checkpoint.info.get("seconds", 0.0)),
                      "epochs": (checkpoint.train_config or {}).get("epochs"),
                      "source": str(path.relative_to(ROOT))}
    return out


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": machine_cores(), "training_cores": available_cores(), "cpu": cpu,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def table(runs: list[dict], full: dict) -> str:
    lines = ["| model | preset | budget | jobs at once | threads | dev accuracy (whole dev set) "
             "| seconds from the button | steps | epochs |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        budget = f"{r['budget_s']:.0f} s" if r["preset"] == "class" else "—"
        lines.append(f"| {r['model']} | {r['preset']} | {budget} | {r['jobs']} | {r['threads']} "
                     f"| {r['dev_accuracy']:.2%} | {r['seconds']:.1f} | {r['steps']} "
                     f"| {r['epochs']:.2f} |")
    for model, f in full.items():
        lines.append(f"| {model} | full run (shipped) | — | 1 | — | {f['dev_accuracy']:.2%} | "
                     f"{f['seconds']:.0f} | — | {f['epochs']} |")
    for model, accuracy in PEER.items():
        lines.append(f"| {model} | classic implementation (README) | — | — | — | {accuracy:.1%} "
                     "| minutes | — | — |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $RNNVIZ_DATA_DIR")
    parser.add_argument("--models", nargs="+", default=["textrnn", "textrcnn"],
                        choices=["textrnn", "textrcnn"])
    parser.add_argument("--budgets", nargs="+", type=float, default=[30, 60, 120])
    parser.add_argument("--two-jobs-budget", type=float, default=60,
                        help="budget of the two-at-once runs (0 = skip them)")
    parser.add_argument("--no-quick", action="store_true", help="skip the quick preset")
    parser.add_argument("--out", type=Path, default=BENCH_FILE)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    folder = thucnews_folder(args.data_dir or data_dir(), "train.txt")
    if folder is None:
        raise SystemExit(f"no THUCNews folder under {args.data_dir or data_dir()}")
    dev_set = load_split(folder, "dev")[0]
    info = machine()
    print(f"data {folder}; {info['cores']} cores ({info['cpu']}), {info['training_cores']} for "
          f"training, torch {info['torch']}, load average {info['load_average_at_start']}")
    runner = JobRunner(max_running=2)
    runs: list[dict] = []

    def run(model: str, preset: str, specs: list[TrainingSpec], budget: float) -> None:
        for spec in specs:
            spec.folder = folder
        # The threads each child starts with: its share among the jobs started together.
        threads = threads_for(len(specs))
        for spec, (job, outcome) in zip(specs, run_jobs(specs, runner), strict=True):
            runs.append(record(model, preset, budget, len(specs), job, spec, outcome, dev_set,
                               threads))
            r = runs[-1]
            print(f"  {model} {preset} budget {budget:.0f}s x{len(specs)}: dev "
                  f"{r['dev_accuracy']:.4f} in {r['seconds']:.1f}s ({r['steps']} steps, "
                  f"{r['stop']})", flush=True)

    for model in args.models:
        for budget in args.budgets:
            run(model, "class", [class_spec(model, budget)], budget)
        if not args.no_quick:
            run(model, "quick", [quick_spec(model)], 0)
        if args.two_jobs_budget:
            b = args.two_jobs_budget
            run(model, "class", [class_spec(model, b, f"{model}-a"),
                                 class_spec(model, b, f"{model}-b")], b)

    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    full = full_runs()
    result = {
        "written": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python", "bench/class_training.py", *sys.argv[1:]]),
        "machine": info, "runs": runs, "full": full, "peer": PEER,
    }
    print(table(runs, full))
    print(f"load average at the start {info['load_average_at_start']}, at the end "
          f"{info['load_average_at_end']} (a busy machine makes every figure lower)")
    if not args.no_write:
        write_json(args.out, result)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
