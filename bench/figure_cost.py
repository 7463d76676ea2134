"""Benchmark: building the predict page's two figures, plotly's full template vs ours.

    python bench/figure_cost.py [--runs 50]

For a title predicted by the shipped Text-RNN, times probability_figure and token_states_figure
(and Streamlit's own step after it: Figure.to_dict + plotly.io.to_json) in one process:

  baseline - the figures with template "plotly_white" named, as before rnnviz/plots/style.py;
  ours     - rnnviz.plots.style.LIGHT (plotly_white's layout part, built once);

printing the median milliseconds and the ratio ours / baseline. Never asserts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import plotly.io as pio  # noqa: E402
import torch  # noqa: E402

import rnnviz.plots.classifier as classifier  # noqa: E402
from rnnviz.core.predict import Predictor  # noqa: E402
from rnnviz.paths import MODELS_DIR  # noqa: E402
from rnnviz.plots.style import LIGHT  # noqa: E402


def median_ms(fn, runs: int) -> float:
    fn()  # first call: validators imported, caches warm
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(1)
    pred = Predictor.from_file(MODELS_DIR / "textrnn.safetensors").predict(
        "中国女排三比零战胜对手提前锁定冠军"
    )

    def both() -> None:
        for fig in (classifier.probability_figure(pred.probabilities, pred.label, "zh"),
                    classifier.token_states_figure(pred.layers[0], pred.tokens, "zh")):
            pio.to_json(fig.to_dict(), validate=False)

    results = {}
    for name, template in (("baseline", "plotly_white"), ("ours", LIGHT)):
        classifier._LAYOUT["template"] = template
        results[name] = median_ms(both, args.runs)
    classifier._LAYOUT["template"] = LIGHT
    print(f"the predict page's two figures, built and serialised, median of {args.runs}:")
    for name, ms in results.items():
        print(f"  {name:<9}{ms:7.1f} ms")
    print(f"ratio ours/baseline: {results['ours'] / results['baseline']:.2f}x")


if __name__ == "__main__":
    main()
