"""Benchmark: where prediction is faster, CPU or GPU (the rule in rnnviz/core/predict.py).

    python bench/predict_devices.py [--runs 30] [--sizes 64 256 1024 4096]

For each shipped model: one title's forward on the CPU (one thread, as the app) and on the GPU
(p50 of ``--runs``, synchronised), the app's real single-title path for reference (predict with
trace and importance, CPU), and ``predict_many`` throughput (titles/s) on both devices for each
batch of ``--sizes`` titles. Titles are random strings of the model's own characters, 10-30
long. Without a GPU it prints the CPU side only. A benchmark, not a test: it never asserts.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from rnnviz.core.predict import GPU_MIN_TEXTS, Predictor  # noqa: E402
from rnnviz.core.text import PAD, UNK  # noqa: E402
from rnnviz.paths import MODELS_DIR  # noqa: E402

TITLE = "湖人队主场击败火箭队，詹姆斯砍下三十分"


def p50_ms(action, runs: int, sync: bool) -> float:
    action()  # warm-up (kernels, allocator)
    times = []
    for _ in range(runs):
        if sync:
            torch.cuda.synchronize()
        start = time.perf_counter()
        action()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, GPU_MIN_TEXTS, 4096])
    args = parser.parse_args()
    torch.set_num_threads(1)  # the app's default ($RNNVIZ_TORCH_THREADS)
    gpu = torch.cuda.is_available()
    print(f"torch {torch.__version__}, GPU: {torch.cuda.get_device_name(0) if gpu else 'none'}; "
          f"predict_many sends >= {GPU_MIN_TEXTS} titles to the GPU")
    for path in sorted(MODELS_DIR.glob("*.safetensors")):
        measure(path, args, gpu)


def measure(path: Path, args: argparse.Namespace, gpu: bool) -> None:
    predictor = Predictor.from_file(path)
    chars = [t for t in predictor.vocab.itos if t not in (PAD, UNK) and len(t) == 1]
    rng = random.Random(0)
    titles = ["".join(rng.choices(chars, k=rng.randint(10, 30))) for _ in range(max(args.sizes))]
    model = predictor.model
    ids = torch.tensor([predictor.vocab.encode(list(TITLE))])
    lengths = torch.tensor([ids.shape[1]])
    with torch.inference_mode():
        cpu_ms = p50_ms(lambda: model(ids, lengths), args.runs, sync=False)
        line = f"{path.stem}: one title, forward: CPU {cpu_ms:.2f} ms"
        if gpu:
            on_gpu = predictor._model_on(torch.device("cuda"))
            g_ids, g_len = ids.cuda(), lengths.cuda()
            gpu_ms = p50_ms(lambda: on_gpu(g_ids, g_len), args.runs, sync=True)
            line += f", GPU {gpu_ms:.2f} ms"
    app_ms = p50_ms(lambda: predictor.predict(TITLE, with_trace=True), args.runs, sync=False)
    print(f"{line}; the app's predict + trace + importance (CPU) {app_ms:.1f} ms")
    for n in args.sizes:
        row = f"  predict_many {n:>5} titles:"
        for device in ("cpu", "cuda") if gpu else ("cpu",):
            predictor.predict_many(titles[:8], device=device)  # warm-up (and the GPU copy)
            start = time.perf_counter()
            predictor.predict_many(titles[:n], device=device)
            if device == "cuda":
                torch.cuda.synchronize()
            row += f"  {device} {n / (time.perf_counter() - start):8.0f} titles/s"
        print(row)

if __name__ == "__main__":
    main()
