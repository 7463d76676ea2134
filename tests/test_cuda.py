"""The GPU path on a real NVIDIA GPU (pytest marker ``cuda``; ``bash bench/gpu_check.sh`` runs
these and then the CPU-vs-GPU speed table).

Without a CUDA GPU every test here is SKIPPED, and a skip proves nothing: it is NOT a pass.
The rules these tests rely on are checked on any machine by tests/test_cuda_rules.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import keyed_dataset

from rnnviz.core import precision
from rnnviz.core.checkpoint import Checkpoint, load_checkpoint
from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.evaluate import evaluate_checkpoint
from rnnviz.core.predict import GPU_MIN_TEXTS, Predictor
from rnnviz.core.train import resolve_device, train

ROOT = Path(__file__).resolve().parent.parent
NOT_RUN = ("NOT RUN - no CUDA GPU on this machine (a skip is not a pass): run "
           "`bash bench/gpu_check.sh` on a machine with an NVIDIA GPU")
pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason=NOT_RUN)]
CPU = torch.device("cpu")


def small(model: str) -> ModelConfig:
    return ModelConfig.for_model(model, embed_dim=32, hidden_size=32, num_layers=1, bigram_dim=8)


def quick(**fields: object) -> TrainConfig:
    return TrainConfig(**{"batch_size": 64, "max_steps": 40, "eval_every": 20, "lr": 1e-2,
                          "warmup_steps": 0, **fields})


DATA, DEV = keyed_dataset(1000, 0, 12), keyed_dataset(300, 1, 12)


def test_auto_picks_the_gpu() -> None:
    assert resolve_device("auto").type == "cuda"
    assert precision.describe(torch.device("cuda")) in ("bf16 autocast", "float32")


@pytest.mark.parametrize("model", ["textrnn", "textrcnn"])
def test_both_models_train_on_the_gpu_and_save_a_float32_checkpoint(model: str) -> None:
    result = train(small(model), quick(), DATA, DEV)
    assert result.device.startswith("cuda")
    losses = [h["dev_loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert result.dev_report is not None and result.dev_report.accuracy > 0.6
    saved = load_checkpoint(Checkpoint.from_train_result(result).to_bytes())  # CPU, float32
    assert {t.dtype for t in saved.model.state_dict().values()} <= {torch.float32, torch.int64}
    assert next(saved.model.parameters()).device == CPU
    assert Predictor(saved).predict("一二甲三四", with_trace=True).layers


def test_the_forward_runs_in_bf16_on_the_gpu() -> None:
    if precision.amp_dtype(torch.device("cuda")) is None:
        pytest.skip(f"NOT RUN - this GPU has no bf16 (or ${precision.AMP_ENV}=off): "
                    "training runs float32 on it")
    result = train(small("textrcnn"), quick(max_steps=2, eval_every=2), DATA, DEV)
    model = result.model.to("cuda")
    with precision.autocast(torch.device("cuda")):
        logits = model(torch.tensor([[3, 4, 5]], device="cuda"), torch.tensor([3]).cuda())
    assert logits.dtype == torch.bfloat16


@pytest.mark.parametrize("model", ["textrnn", "textrcnn"])
def test_float32_on_the_gpu_follows_the_cpu(model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Autocast and TF32 off: the same 10 steps on both devices land on nearly the same dev
    loss (cuDNN's and the CPU's kernels round differently: 5e-3 relative after 10 steps; a
    wrong mask or a lost batch moves it by far more)."""
    monkeypatch.setenv(precision.AMP_ENV, "off")
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    tc = quick(max_steps=10, eval_every=10)
    on_gpu = train(small(model), tc, DATA, DEV)
    on_cpu = train(small(model), TrainConfig(**{**tc.to_dict(), "device": "cpu"}), DATA, DEV)
    assert on_gpu.history[-1]["dev_loss"] == pytest.approx(on_cpu.history[-1]["dev_loss"],
                                                           rel=5e-3)


def test_evaluation_and_batched_prediction_on_the_gpu_match_the_cpu() -> None:
    checkpoint = Checkpoint.from_train_result(train(small("textrnn"), quick(), DATA, DEV))
    on_gpu = evaluate_checkpoint(checkpoint, DEV, "cuda")  # bf16 autocast where supported
    on_cpu = evaluate_checkpoint(checkpoint, DEV, "cpu")
    assert abs(on_gpu.accuracy - on_cpu.accuracy) <= 0.01
    assert next(checkpoint.model.parameters()).device == CPU  # moved back after

    predictor = Predictor(checkpoint)
    texts = (DEV.texts * (GPU_MIN_TEXTS // len(DEV.texts) + 1))[:GPU_MIN_TEXTS]
    gpu = predictor.predict_many(texts)  # "auto": this many go to the GPU
    cpu = predictor.predict_many(texts, device="cpu")
    assert [label for label, _ in gpu] == [label for label, _ in cpu]
    for (_, p_gpu), (_, p_cpu) in zip(gpu, cpu, strict=True):
        assert list(p_gpu.values()) == pytest.approx(list(p_cpu.values()), abs=1e-4)
    assert next(predictor.model.parameters()).device == CPU  # the shared model never moved


def test_the_app_training_job_uses_the_gpu_in_its_child_process() -> None:
    from rnnviz.jobs.training import TrainingSpec, train_in_subprocess

    class Job:
        def __init__(self) -> None:
            self.devices: set[str] = set()

        def update(self, **fields: object) -> None:
            progress = fields.get("progress")
            if isinstance(progress, dict):
                self.devices.add(str(progress.get("device")))

        def should_stop(self) -> bool:
            return False

    job = Job()
    spec = TrainingSpec(model_config=small("textrnn"), train_config=quick(device="auto"),
                        name="gpu job", train_data=DATA, dev_data=DEV)
    outcome = train_in_subprocess(job, spec)
    assert outcome.device.startswith("cuda") and any(d.startswith("cuda") for d in job.devices)
    assert outcome.predictor is not None  # loaded here, on the CPU
    assert next(outcome.predictor.model.parameters()).device == CPU


@pytest.mark.skipif(torch.cuda.device_count() < 2,
                    reason="NOT RUN - needs 2 CUDA GPUs for a 2-process nccl run")
def test_torchrun_on_two_gpus_trains_with_nccl(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "class.txt").write_text("\n".join(DATA.classes) + "\n", encoding="utf-8")
    for name, ds in (("train.txt", DATA), ("dev.txt", DEV)):
        lines = (f"{t}\t{y}\n" for t, y in zip(ds.texts, ds.labels, strict=True))
        (folder / name).write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "nccl.safetensors"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "rnnviz", "train", "--model", "textrcnn", "--data-dir", str(folder),
         "--device", "cuda", "--embed", "32", "--hidden", "32", "--max-steps", "40",
         "--eval-every", "20", "--batch-size", "32", "--quiet", "--out", str(out)],
        cwd=ROOT, env={**os.environ, "PYTHONIOENCODING": "utf-8"}, capture_output=True,
        text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = load_checkpoint(out).info
    assert (info["backend"], info["processes"], info["global_batch_size"]) == ("nccl", 2, 64)
