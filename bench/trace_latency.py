"""Benchmark: latency of one prediction (label + importance, with and without the gate trace).

    python bench/trace_latency.py [--runs 200] [--threads 1]

For each model (the shipped assets/models/textrnn.safetensors and textrcnn.safetensors, or,
when one is absent, a randomly initialised model of the shipped size: TextRNN 2-layer BiLSTM
embed 128 hidden 128, TextRCNN 1-layer BiLSTM hidden 256 proj 256, vocabulary ~5000) and for a
30- and a 300-character Chinese text, times
  baseline  - the plain model forward (what a bare classifier costs), in inference_mode;
  predict   - Predictor.predict(text, with_trace=False): encode + forward + importance;
  +trace    - Predictor.predict(text): the above and every gate of every layer;
  ref+trace - predict without the trace, then trace_module on its embeddings: what +trace cost
              with the reference trace (the path predict took before rnnviz.core.fasttrace);
  trace_ref - rnnviz.core.trace.trace_module on the embeddings alone (the readable reference, a
              Python loop over time), in inference_mode;
  trace_fast- rnnviz.core.fasttrace.fast_trace_module on the same embeddings (what predict uses);
and prints wall-clock p50 / p95 / mean in ms, the p50 of the thread's CPU time (steadier when
other processes share the cores), the ratio of each p50 to the baseline's, and a line with the
speed-up of trace_fast over trace_ref. Target: p95 of +trace < 50 ms for 300 characters on one
CPU thread. A benchmark, not a test: it never asserts.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from rnnviz.core.checkpoint import Checkpoint  # noqa: E402
from rnnviz.core.fasttrace import fast_trace_module  # noqa: E402
from rnnviz.core.models import ModelConfig, build_model, count_parameters  # noqa: E402
from rnnviz.core.predict import Predictor  # noqa: E402
from rnnviz.core.text import PAD, UNK, Vocab, encode_text  # noqa: E402
from rnnviz.core.trace import trace_module  # noqa: E402
from rnnviz.paths import MODELS_DIR  # noqa: E402

TARGET_P95_MS = 50.0
SIZES = {
    "textrnn": dict(model="textrnn", embed_dim=128, hidden_size=128, num_layers=2),
    "textrcnn": dict(model="textrcnn", embed_dim=128, hidden_size=256, num_layers=1, rcnn_proj=256),
}
# A news-title-like sentence, repeated to the lengths timed.
SENTENCE = "中国女排在世界杯比赛中以三比零战胜对手，提前锁定冠军。股市今日小幅上涨，科技板块领涨。"


def _stand_in(name: str) -> Checkpoint:
    """A random model of the shipped size over a vocabulary of ~5000 characters."""
    chars = sorted(set(SENTENCE)) + [chr(0x4E00 + i) for i in range(5000)]
    itos = list(dict.fromkeys([PAD, UNK, *chars]))[:5000]
    classes = [f"class{i}" for i in range(10)]
    config = ModelConfig(**SIZES[name], vocab_size=len(itos), num_classes=len(classes))
    return Checkpoint(model=build_model(config).eval(), config=config, vocab=Vocab(tuple(itos)),
                      classes=classes)


def _predictor(name: str) -> tuple[Predictor, str]:
    path = MODELS_DIR / f"{name}.safetensors"
    if path.is_file():
        return Predictor.from_file(path), str(path.relative_to(ROOT))
    return Predictor(_stand_in(name), name=name), "random stand-in (shipped file absent)"


def _time(fn: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and this thread's CPU time per call, in ms."""
    for _ in range(max(3, runs // 20)):  # warm-up: first calls allocate
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    return wall, cpu


def _measure(predictor: Predictor, text: str, runs: int) -> list[tuple[str, list, list]]:
    """(what, wall ms, cpu ms) for the plain forward, predict, predict with the trace, and the
    reference and fast traces alone."""
    model = predictor.model
    enc = encode_text(text, predictor.tokenizer, predictor.vocab, predictor.config.max_len)
    ids, lengths = torch.tensor([enc.ids]), torch.tensor([len(enc.ids)])
    with torch.inference_mode():
        emb = model.embed(ids)

    def baseline() -> object:
        with torch.inference_mode():
            return model(ids, lengths)

    def traced(trace: Callable) -> Callable[[], object]:
        def run() -> object:
            with torch.inference_mode():
                return trace(model.rnn, emb)

        return run

    return [
        ("baseline", *_time(baseline, runs)),
        ("predict", *_time(lambda: predictor.predict(text, with_trace=False), runs)),
        ("+trace", *_time(lambda: predictor.predict(text), runs)),
        ("ref+trace", *_time(lambda: (predictor.predict(text, with_trace=False),
                                      traced(trace_module)()), runs)),
        ("trace_ref", *_time(traced(trace_module), runs)),
        ("trace_fast", *_time(traced(fast_trace_module), runs)),
    ]


def _stats(ms: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return statistics.median(ms), q[94], statistics.fmean(ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    random.seed(0)
    torch.manual_seed(0)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.runs} runs each")
    print("wall-clock p50/p95/mean; 'cpu p50' is this thread's CPU time (steadier on a shared "
          "machine)")
    print(f"{'model':<9}{'chars':>6}{'tokens':>7}  {'what':<9}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'mean ms':>9}{'cpu p50':>9}{'x base':>8}")
    for name in SIZES:
        predictor, source = _predictor(name)
        print(f"-- {name}: {source}, {count_parameters(predictor.model):,} parameters, "
              f"{predictor.config.cell} x{predictor.config.num_layers}, hidden "
              f"{predictor.config.hidden_size}")
        for chars in (30, 300):
            text = (SENTENCE * (chars // len(SENTENCE) + 1))[:chars]
            rows = _measure(predictor, text, args.runs)
            base_p50 = _stats(rows[0][1])[0]
            tokens = len(predictor.predict(text, with_trace=False).tokens)
            for what, ms, cpu in rows:
                p50, p95, mean = _stats(ms)
                flag = ""
                if what == "+trace" and chars == 300:
                    flag = ("  ok" if p95 < TARGET_P95_MS
                            else f"  ABOVE {TARGET_P95_MS:.0f} ms target")
                print(f"{name:<9}{chars:>6}{tokens:>7}  {what:<10}{p50:>8.2f}{p95:>9.2f}"
                      f"{mean:>9.2f}{statistics.median(cpu):>9.2f}{p50 / base_p50:>8.1f}{flag}")
            ref, fast = (rows[i] for i in (4, 5))
            print(f"{'':<22}trace_ref / trace_fast: "
                  f"p50 {_stats(ref[1])[0] / _stats(fast[1])[0]:.1f}x, "
                  f"cpu p50 {statistics.median(ref[2]) / statistics.median(fast[2]):.1f}x")

if __name__ == "__main__":
    main()
