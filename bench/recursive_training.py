"""Benchmark: the recursive-networks page's live training budget (tree network vs chain RNN).

    python bench/recursive_training.py [--steps 800] [--seeds 0 1 2] [--threads 1] [--no-spawn]

For each seed, runs the page's default ``ToyConfig`` (or ``--steps``) exactly as the page
does, in one process with one torch thread, and prints the wall and CPU time of the whole
run, the share of each model (timed on the same batches step by step), and the held-out
accuracy of each, overall and by expression depth. Then times what the page adds around it:
starting the child process the page trains in (rnnviz/jobs/process.py), with a no-op target.
A benchmark, not a test: never asserts. Run it on an otherwise idle machine; on a shared one
the wall time grows with the load (compare the CPU time).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from rnnviz.jobs.process import run_in_subprocess  # noqa: E402
from rnnviz.lessons.recursive import (  # noqa: E402
    KINDS,
    ToyConfig,
    build_model,
    chain_inputs,
    sample_expressions,
    train_tree_vs_chain,
    tree_inputs,
)

INPUTS = {"tree": tree_inputs, "chain": chain_inputs}


class _NoJob:
    def update(self, **fields: object) -> None:
        pass

    def should_stop(self) -> bool:
        return False


def _noop(job: object) -> str:
    return "ok"


def per_model_seconds(config: ToyConfig, steps: int) -> dict[str, float]:
    """CPU seconds of ``steps`` training steps of each model alone, on the same batches."""
    out = {}
    for kind in KINDS:
        model = build_model(kind, config)
        optim = torch.optim.Adam(model.parameters(), lr=config.lr)
        data = random.Random(config.seed)
        start = time.process_time()
        for _ in range(steps):
            exprs = sample_expressions(config.batch_size, config.max_leaves, data)
            y = torch.tensor([e.value for e in exprs])
            loss = nn.functional.cross_entropy(model(INPUTS[kind](exprs)), y)
            optim.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
            optim.step()
        out[kind] = time.process_time() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=ToyConfig().steps)
    parser.add_argument("--max-leaves", type=int, default=ToyConfig().max_leaves)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app uses 1)")
    parser.add_argument("--no-spawn", action="store_true", help="skip timing the child process")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"torch {torch.__version__}, {args.threads} thread(s); steps {args.steps}, "
          f"up to {args.max_leaves} digits")
    for seed in args.seeds:
        config = ToyConfig(steps=args.steps, max_leaves=args.max_leaves, seed=seed)
        wall, cpu = time.perf_counter(), time.process_time()
        result = train_tree_vs_chain(config)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        split = per_model_seconds(config, min(args.steps, 100))
        share = {k: v / sum(split.values()) for k, v in split.items()}
        accs = ", ".join(f"{k} {result.final_accuracy[k]:.3f}" for k in KINDS)
        print(f"seed {seed}: wall {wall:.1f} s, cpu {cpu:.1f} s "
              f"(tree {share['tree']:.0%}, chain {share['chain']:.0%}); held-out: {accs}; "
              f"params {result.params}")
        for kind in KINDS:
            by = "  ".join(f"d{d}: {a:.2f}" for d, a in result.by_depth[kind].items())
            print(f"    {kind:5s} by depth  {by}")
    if not args.no_spawn:
        start = time.perf_counter()
        run_in_subprocess(_NoJob(), _noop)
        print(f"child process start + stop (no-op target): {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
