"""One training run, data in, checkpoint out (rnnviz/core/training_run.py): what the CLI's train
command and the app's training job share. The checkpoint's ``info`` keeps the keys the code
before it wrote (tests/fixtures/old_checkpoints.json lists them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import keyed_dataset

from rnnviz.core.callbacks import TrainerControl
from rnnviz.core.checkpoint import load_checkpoint
from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.training_run import train_to_checkpoint

TINY = ModelConfig(cell="gru", embed_dim=8, hidden_size=8, num_layers=1, bigram_dim=0)
QUICK = TrainConfig(batch_size=16, warmup_steps=0, eval_every=5, max_steps=10, device="cpu")
TRAIN, DEV = keyed_dataset(80, 0, max_noise=6), keyed_dataset(30, 1, max_noise=6)
OLD = json.loads((Path(__file__).resolve().parent / "fixtures" / "old_checkpoints.json")
                 .read_text(encoding="utf-8"))

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_test")


@pytest.mark.parametrize(("source", "old"), [
    ({"data_dir": "/data/thucnews"}, "old_cli_textrnn"),
    ({"name": "Text-RNN #1", "data_source": "upload.txt"}, "old_job_textrcnn"),
])
def test_the_checkpoint_says_where_it_came_from(source: dict, old: str) -> None:
    run = train_to_checkpoint(TINY, QUICK, TRAIN, DEV, source=source)
    assert run.checkpoint is not None and run.state.step == 10
    assert run.info == {**source, "train_examples": 80, "dev_examples": 30, "steps": 10,
                        "stop_reason": ""}
    saved = load_checkpoint(run.checkpoint.to_bytes()).info
    assert list(saved) == OLD[old]["info_keys"]
    assert {k: saved[k] for k in run.info} == run.info
    assert saved["params"] > 0 and saved["device"] == "cpu"


def test_no_dev_set_counts_zero_dev_examples_and_keeps_the_last_weights() -> None:
    run = train_to_checkpoint(TINY, QUICK, TRAIN, None, source={"data_dir": "x"})
    assert run.info["dev_examples"] == 0 and run.result.dev_report is None
    assert run.checkpoint is not None and run.checkpoint.metrics is None


def test_stopped_before_the_first_step_keeps_nothing() -> None:
    control = TrainerControl()
    control.stop("stopped by user")
    run = train_to_checkpoint(TINY, QUICK, TRAIN, DEV, control=control, source={"data_dir": "x"})
    assert run.checkpoint is None and run.state.step == 0
    assert run.info["steps"] == 0 and run.info["stop_reason"] == "stopped by user"
