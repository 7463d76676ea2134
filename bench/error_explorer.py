"""Benchmark: what the error page costs — once per (model, data), and per cell change after that.

    python bench/error_explorer.py [--runs 10] [--data DIR]

On THUCNews's dev split (10,000 titles; --data or $RNNVIZ_DATA_DIR or ../shared/data) and the
shipped models, one torch thread (as the app runs):

  once   - rnnviz.core.mistakes.predict_dataset over every dev title: the one-time cost the
           page caches process-wide per (model fingerprint, data fingerprint);
  hit    - the page's cached lookup on a second session (st.cache_resource hit): what any later
           visit, keystroke or cell change pays for the predictions;
  first  - the error page's first render in a fresh AppTest session with the cache warm;
  cell   - one cell change (another predicted class) on that page, median of --runs;
  order  - the list order switched, median of --runs.

AppTest runs the script in-process (no browser, no websocket), so its wall times are the
server's script time plus AppTest's own bookkeeping. A benchmark, not a test: it prints and
never asserts. Figures from a busy shared machine are provisional: rerun in a quiet window.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

torch.set_num_threads(1)

from streamlit.testing.v1 import AppTest  # noqa: E402

from rnnviz.core.data import load_dataset  # noqa: E402
from rnnviz.core.mistakes import model_fingerprint, predict_dataset, thucnews_dev_file  # noqa: E402
from rnnviz.core.predict import Predictor  # noqa: E402
from rnnviz.paths import MODELS_DIR  # noqa: E402

APP = str(ROOT / "app.py")
PAGE = "pages/errors.py"


def _quiet() -> None:
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _session() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=600)
    at.run()
    return at


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="cell / order changes timed (default 10)")
    ap.add_argument("--data", help="data root holding thucnews/ (default: the data directory)")
    args = ap.parse_args()
    if args.data:
        os.environ["RNNVIZ_DATA_DIR"] = args.data
    dev = thucnews_dev_file()
    if dev is None:
        sys.exit("no THUCNews dev split: set --data or $RNNVIZ_DATA_DIR")
    dataset, _ = load_dataset(dev, fmt="thucnews")
    print(f"{len(dataset)} dev titles from {dev}; torch threads {torch.get_num_threads()}\n")
    for name in ("textrnn", "textrcnn"):
        predictor = Predictor.from_file(MODELS_DIR / f"{name}.safetensors")
        fp = _timed(lambda p=predictor: model_fingerprint(p))
        once = _timed(lambda p=predictor: predict_dataset(p, dataset))
        print(f"{name:<9} once: predict_dataset {once:6.2f} s "
              f"({len(dataset) / once:,.0f} titles/s); model fingerprint {fp * 1000:.0f} ms")

    _quiet()
    at = _session()
    cold = _timed(lambda: at.switch_page(PAGE).run())  # the shipped Text-RNN on dev: computes
    _quiet()
    at2 = _session()
    first = _timed(lambda: at2.switch_page(PAGE).run())  # another session: cache hit
    if at2.exception or at2.error:
        sys.exit(f"the page failed: {at2.exception or at2.error}")
    cells, orders = [], []
    C = len(at2.selectbox(key="errors_pred").options)
    for i in range(args.runs):
        pred = at2.selectbox(key="errors_pred")
        cells.append(_timed(lambda p=pred, j=i: p.set_value((j + 1) % C).run()))
        order = at2.radio(key="errors_order")
        nxt = "p_true_asc" if order.value == "p_pred_desc" else "p_pred_desc"
        orders.append(_timed(lambda o=order, v=nxt: o.set_value(v).run()))
    print(f"\nerror page (AppTest, shipped Text-RNN, THUCNews dev), {args.runs} changes each:")
    print(f"  first render, cold cache (computes)  {cold:6.2f} s")
    print(f"  first render, new session, warm      {first:6.2f} s  (predictions: cache hit)")
    print(f"  cell change    median {statistics.median(cells) * 1000:6.0f} ms   "
          f"max {max(cells) * 1000:6.0f} ms")
    print(f"  order change   median {statistics.median(orders) * 1000:6.0f} ms   "
          f"max {max(orders) * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
