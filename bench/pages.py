"""Benchmark: first render and one widget change of each teaching page, through AppTest.

    python bench/pages.py [--runs 5] [--warm]

Each run builds a fresh AppTest session, renders the home page, then times
  first  - switch_page(page).run(): the page's first render in a new session;
  change - one widget change on that page (.set_value(...).run()).
st.cache_data is cleared before each run (cold caches, the worst case for a student) unless
--warm is given. The median over the runs is compared with the targets (first < 2 s,
change < 1 s). Python imports are warmed by one untimed run first: a served app pays them
once per process, not per student; that untimed run is shown as "1st/proc" for reference
(it includes the page's first imports, so pages benchmarked later in the same process pay
less of them). A benchmark, not a test: it prints and never asserts.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
import torch  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

FIRST_TARGET_S = 2.0
CHANGE_TARGET_S = 1.0

# (page, description of the change, the change). Keys are the pages' widget keys.
Change = Callable[[AppTest], object]
PAGES: list[tuple[str, str, Change]] = [
    ("pages/rnn_structure.py", "step t -> 5",
     lambda at: at.slider(key="structure_step").set_value(5)),
    ("pages/gradients.py", "clip threshold -> 5",
     lambda at: at.select_slider(key="grad_clip").set_value(5.0)),
    ("pages/bptt.py", "length T -> 200", lambda at: at.slider(key="bptt_len").set_value(200)),
    ("pages/long_dependency.py", "(first slider) -> max", lambda at: _first_slider_to_max(at)),
    ("pages/lstm_gru.py", "(first slider) -> max", lambda at: _first_slider_to_max(at)),
    ("pages/bidirectional.py", "(first slider) -> max", lambda at: _first_slider_to_max(at)),
    ("pages/home.py", "headline typed",
     lambda at: at.text_input(key="home_text").set_value("国足公布亚洲杯大名单")),
    ("pages/recursive.py", "(first slider) -> max", lambda at: _first_slider_to_max(at)),
    ("pages/lstm_steps.py", "(first slider) -> max", lambda at: _first_slider_to_max(at)),
    ("pages/memory_network.py", "hops -> 1",
     lambda at: at.radio(key="memnet_hops").set_value(1)),
    ("pages/padding.py", "(first slider) -> max", lambda at: _first_slider_to_max(at)),
    ("pages/errors.py", "(first slider) -> max", lambda at: _first_slider_to_max(at)),
]


def _first_slider_to_max(at: AppTest) -> object:
    """Pages written by others: move their first slider (or the first selectbox) to its end."""
    if len(at.slider):
        s = at.slider[0]
        return s.set_value(s.max)
    if len(at.selectbox):
        sb = at.selectbox[0]
        return sb.set_value(sb.options[-1])
    raise RuntimeError("no slider or selectbox to change")


def _quiet() -> None:
    """AppTest's bare-mode warnings ("No runtime found") are noise here; loggers appear lazily."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_page(
    page: str, change: Change, runs: int, warm: bool
) -> tuple[float, float, float, str | None]:
    """(first render in a fresh process incl. imports, median first render, median change,
    error)."""
    firsts, changes = [], []
    cold = float("nan")
    for i in range(runs + 1):  # run 0 warms imports and is not counted
        _quiet()
        if not warm:
            st.cache_data.clear()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.run()
        first = _time(lambda at=at: at.switch_page(page).run())
        if at.exception:
            return cold, cold, cold, at.exception[0].value
        if "lang" not in at.session_state:  # the page ran alone, without app.py: not comparable
            return cold, cold, cold, "app.py did not run (its url_path equals the file stem)"
        second = _time(lambda at=at: change(at).run())
        if at.exception:
            return cold, cold, cold, at.exception[0].value
        if i:
            firsts.append(first)
            changes.append(second)
        else:
            cold = first
    return cold, statistics.median(firsts), statistics.median(changes), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warm", action="store_true", help="keep st.cache_data between runs")
    parser.add_argument("pages", nargs="*", help="only these pages (e.g. pages/bptt.py)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    print(f"median of {args.runs} runs, caches {'warm' if args.warm else 'cleared each run'}; "
          f"targets: first render < {FIRST_TARGET_S:g} s, widget change < {CHANGE_TARGET_S:g} s")
    print(f"{'page':28} {'1st/proc s':>10} {'first s':>8} {'change s':>9}  {'result':6}  change")
    for page, what, change in PAGES:
        if args.pages and page not in args.pages:
            continue
        if not (ROOT / page).exists():
            print(f"{page:28} {'-':>10} {'-':>8} {'-':>9}  skip    file does not exist yet")
            continue
        cold, first, second, error = bench_page(page, change, args.runs, args.warm)
        if error:
            print(f"{page:28} {'-':>10} {'-':>8} {'-':>9}  ERROR   {error}")
            continue
        ok = first < FIRST_TARGET_S and second < CHANGE_TARGET_S
        print(f"{page:28} {cold:10.2f} {first:8.2f} {second:9.2f}  "
              f"{'pass' if ok else 'FAIL':6}  {what}")


if __name__ == "__main__":
    main()
