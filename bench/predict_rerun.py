"""Benchmark: what one keystroke on the predict page costs the server, alone on it.

    python bench/predict_rerun.py [--runs 40]

Starts the app twice (`streamlit run app.py` on 127.0.0.1, torch 1 thread), one session over
the websocket protocol (bench/st_client.py), and on each server times:

  text   - a new title in the text box: the full page rerun (prediction, answer, both figures);
  layer  - another layer in the gate panel: the panel's fragment rerun only;

printing the wall time per rerun (p50/p95, request sent to script finished) and the server's
CPU time per rerun (psutil). The two servers:

  baseline   - Streamlit's default `runner.postScriptGC = true` (a full gc.collect() after
               every script run), set through STREAMLIT_RUNNER_POST_SCRIPT_GC;
  configured - .streamlit/config.toml as shipped (`postScriptGC = false`);

and the ratios configured / baseline. A benchmark, not a test: it never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import psutil  # noqa: E402
from appserver import AppServer  # noqa: E402
from classroom_protocol import TEXT_LABEL  # noqa: E402
from st_client import StreamlitSession  # noqa: E402

TITLE = "中国女排三比零战胜对手提前锁定冠军"
LAYERS = ["第 1 层 · 反向", "第 2 层 · 正向"]


def _cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


async def measure(url: str, pid: int, runs: int) -> dict[str, tuple[list[float], float]]:
    """kind -> (wall seconds of each rerun, server CPU seconds per rerun)."""
    warm = StreamlitSession(url)  # the first session pays the imports and learns the pages
    await warm.open("", 120)
    await warm.close()
    session = StreamlitSession(url)
    server = psutil.Process(pid)
    out: dict[str, tuple[list[float], float]] = {}
    try:
        await session.open("predict-and-gates", 120)
        area = session.widget("text_area", TEXT_LABEL)
        for i in range(3):  # warm: first figures, first model calls
            session.set_string(area, f"{TITLE}{i}")
            await session.rerun(timeout_s=60)
        for kind in ("text", "layer"):
            walls, cpu0 = [], _cpu_s(server)
            for i in range(runs):
                if kind == "text":
                    session.set_string(area, f"{TITLE}{i + 10}")
                    run = await session.rerun(timeout_s=60)
                else:
                    layer = session.widget("selectbox", "层 / 方向")
                    session.set_string(layer, LAYERS[i % 2])
                    run = await session.rerun(fragment_id=session.fragment_of(layer), timeout_s=60)
                walls.append(run.finished_at - run.started)
            out[kind] = (walls, (_cpu_s(server) - cpu0) / runs)
    finally:
        await session.close()
    return out


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=40,
                    help="reruns of each kind per server (default 40)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="predict-rerun-"))
    results = {}
    for name, env in (
        ("baseline", {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "true"}),
        ("configured", {}),
    ):
        server = AppServer(tmp / f"{name}.log", env=env)
        server.start()
        try:
            results[name] = asyncio.run(measure(server.url, server.pid, args.runs))
        finally:
            server.stop()
    print(f"{args.runs} reruns of each kind, one session, shipped Text-RNN, torch 1 thread\n")
    print(f"{'server':<12}{'rerun':<7}{'wall p50':>10}{'wall p95':>10}{'server CPU':>12}")
    for name, kinds in results.items():
        for kind, (walls, cpu) in kinds.items():
            print(f"{name:<12}{kind:<7}{_p(walls, 50) * 1000:>8.1f}ms{_p(walls, 95) * 1000:>8.1f}ms"
                  f"{cpu * 1000:>10.1f}ms")
    for kind in ("text", "layer"):
        (bw, bc), (cw, cc) = results["baseline"][kind], results["configured"][kind]
        print(f"ratio configured/baseline, {kind}: wall p50 {_p(cw, 50) / _p(bw, 50):.2f}x, "
              f"server CPU {cc / bc:.2f}x")


if __name__ == "__main__":
    main()
