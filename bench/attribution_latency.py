"""Benchmark: what the predict page's two attribution panels add to a keystroke.

    python bench/attribution_latency.py [--runs 30]

For each shipped model, one torch thread (as the app runs), texts of 30 and 64 characters (64:
the longest text occlusion accepts, rnnviz.core.attribution.MAX_OCCLUSION_TOKENS) and 300 for
connectivity alone, p50 / p95 in ms of:

  predict     - Predictor.predict with the gate trace: what every keystroke already pays;
  occlusion   - one batched forward of the 2T+1 variants (the text, T deletions, T <UNK>);
  gradients   - one forward and backward: gradient x input and connectivity (the reach panel
                pays this once per available model);
  compare     - the whole comparison panel: gradients + occlusion + max-pool winners + gates.

With both panels switched on, a new text costs predict + compare + (gradients per model); each
panel is off by default and caches its result per (model, text), so a rerun that does not
change the text pays nothing for them. A benchmark, not a test: it prints and never asserts.
Figures from a busy shared machine are provisional: rerun in a quiet window.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

torch.set_num_threads(1)

from rnnviz.core import attribution as attr  # noqa: E402
from rnnviz.core.predict import Predictor  # noqa: E402
from rnnviz.paths import MODELS_DIR  # noqa: E402

TITLE = "国足主场两球战胜对手，世预赛出线形势明朗，球迷期待小组赛最后一轮再传捷报"


def _text(n: int) -> str:
    return (TITLE * (n // len(TITLE) + 1))[:n]


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def _time(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    fn()  # warm
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return _p(ts, 50), _p(ts, 95)


def _row(p: Predictor, t: str, runs: int) -> list[tuple[float, float] | None]:
    """predict, occlusion, gradients, compare (None where occlusion refuses the length)."""
    pred = p.predict(t)
    fits = len(pred.tokens) <= attr.MAX_OCCLUSION_TOKENS
    return [
        _time(lambda: p.predict(t), runs),
        _time(lambda: attr.occlusion(p, t), runs) if fits else None,
        _time(lambda: attr.gradients(p, t), runs),
        _time(lambda: attr.compare(p, t, pred.layers), runs) if fits else None,
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30, help="timed calls per cell (default 30)")
    args = ap.parse_args()
    print(f"torch threads {torch.get_num_threads()}, {args.runs} runs, ms p50 / p95\n")
    print(f"{'model':<9}{'chars':>6}{'predict':>16}{'occlusion':>16}{'gradients':>16}"
          f"{'compare':>16}")
    for name in ("textrnn", "textrcnn"):
        p = Predictor.from_file(MODELS_DIR / f"{name}.safetensors")
        for n in (30, 64, 300):
            cells = _row(p, _text(n), args.runs)
            shown = "".join(f"{'—':>17}" if c is None else f"{c[0]:>9.1f} / {c[1]:<5.1f}"
                            for c in cells)
            print(f"{name:<9}{n:>6}{shown}")


if __name__ == "__main__":
    main()
