"""The GPU path's rules, checked on any machine (tests/test_cuda.py runs them on a real GPU):
bf16 autocast automatic on CUDA only (rnnviz/core/precision.py), the checkpoint float32 after
an autocast run, a batch moved whole to the training device, and where prediction runs
(rnnviz/core/predict.py: one title on the CPU, a large batch on the GPU)."""

from __future__ import annotations

import pytest
import torch
from helpers import keyed_dataset, tiny_checkpoint

from rnnviz.core import precision
from rnnviz.core.checkpoint import Checkpoint, load_checkpoint
from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.predict import GPU_MIN_TEXTS, Predictor, batch_device
from rnnviz.core.train import Batch, make_batches, train

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")
CUDA, CPU = torch.device("cuda"), torch.device("cpu")


@pytest.fixture
def gpu_present(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend an Ampere-class GPU is there (only the rules are checked, nothing runs on it)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)


def test_bf16_autocast_is_automatic_on_cuda_only(gpu_present: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(precision.AMP_ENV, raising=False)
    assert precision.amp_dtype(CUDA) == torch.bfloat16
    assert precision.describe(CUDA) == "bf16 autocast"
    assert precision.amp_dtype(CPU) is None and precision.describe(CPU) == "float32"
    monkeypatch.setenv(precision.AMP_ENV, "off")
    assert precision.amp_dtype(CUDA) is None
    monkeypatch.setenv(precision.AMP_ENV, "bf16")
    assert precision.amp_dtype(CPU) == torch.bfloat16


def test_no_autocast_on_a_gpu_without_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(precision.AMP_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # pre-Ampere
    assert precision.amp_dtype(CUDA) is None


@pytest.mark.parametrize("model", ["textrnn", "textrcnn"])
def test_an_autocast_run_trains_in_bf16_and_saves_float32(
        model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The code path CUDA takes, run on the CPU's bf16 autocast ($RNNVIZ_AMP=bf16)."""
    monkeypatch.setenv(precision.AMP_ENV, "bf16")
    config = ModelConfig.for_model(model, embed_dim=16, hidden_size=16, num_layers=1,
                                   bigram_dim=8)
    result = train(config, TrainConfig(batch_size=32, max_steps=30, eval_every=10, lr=1e-2,
                                       warmup_steps=0),
                   keyed_dataset(300, 0, 8), keyed_dataset(100, 1, 8))
    losses = [h["dev_loss"] for h in result.history]
    assert losses[-1] < losses[0]  # it learns under autocast
    ids = torch.tensor([[3, 4, 5]])
    with precision.autocast(CPU):
        assert result.model(ids, torch.tensor([3])).dtype == torch.bfloat16
    saved = load_checkpoint(Checkpoint.from_train_result(result).to_bytes())
    dtypes = {t.dtype for t in saved.model.state_dict().values()}
    assert dtypes <= {torch.float32, torch.int64}  # weights float32, bigram keys int64


def test_a_batch_moves_whole_to_the_training_device() -> None:
    """ids, lengths and labels together: the pooling masks are built on the lengths' device
    and must meet the outputs there (a CUDA run failed on exactly this). "meta" stands in for
    a GPU."""
    (batch,) = make_batches([[1, 2, 3], [4]], [0, 1], 2, shuffle=False, bucket=False)
    moved = batch.to(torch.device("meta"))
    assert isinstance(moved, Batch)
    assert {moved.ids.device.type, moved.lengths.device.type, moved.labels.device.type} == {
        "meta"}


def test_one_title_and_small_batches_stay_on_the_cpu(gpu_present: None) -> None:
    assert batch_device(1) == CPU
    assert batch_device(GPU_MIN_TEXTS - 1) == CPU
    assert batch_device(GPU_MIN_TEXTS) == CUDA
    assert batch_device(GPU_MIN_TEXTS, "cpu") == CPU


def test_without_a_gpu_every_batch_stays_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert batch_device(10 * GPU_MIN_TEXTS) == CPU
    predictor = Predictor(tiny_checkpoint())
    texts = ["股市", "球赛"] * (GPU_MIN_TEXTS // 2)
    assert predictor.predict_many(texts) == predictor.predict_many(texts, device="cpu")
    assert next(predictor.model.parameters()).device == CPU
