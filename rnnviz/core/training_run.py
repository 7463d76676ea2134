"""One training run, data in, checkpoint out: what ``python -m rnnviz train`` and the app's
training job both do around the loop of rnnviz/core/train.py. The kept weights become a
checkpoint whose ``info`` says where they came from and how the run went."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rnnviz.core.callbacks import TrainerCallback, TrainerControl, TrainerState
from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.train import LabelledTexts, TrainResult, train


@dataclass
class TrainingRun:
    result: TrainResult
    checkpoint: Checkpoint | None  # None when stopped before the first step: nothing to keep
    info: dict[str, Any]  # the provenance saved in the checkpoint

    @property
    def state(self) -> TrainerState:
        return self.result.state or TrainerState()


def train_to_checkpoint(
    model_config: ModelConfig,
    train_config: TrainConfig,
    train_data: LabelledTexts,
    dev_data: LabelledTexts | None,
    callbacks: Sequence[TrainerCallback] = (),
    control: TrainerControl | None = None,
    *,
    source: dict[str, Any],
    started_at: float | None = None,
) -> TrainingRun:
    """``train`` (rnnviz/core/train.py), then the kept weights as a checkpoint.

    ``source`` opens the checkpoint's ``info`` (the CLI: ``{"data_dir": ...}``; the app:
    ``{"name": ..., "data_source": ...}``); the example counts, the steps taken and why the
    run stopped follow it. ``started_at``: when the time budget starts (see ``train``).
    """
    result = train(model_config, train_config, train_data, dev_data, callbacks, control,
                   started_at=started_at)
    state = result.state or TrainerState()
    info = {
        **source, "train_examples": len(train_data.texts),
        "dev_examples": len(dev_data.texts) if dev_data is not None else 0,
        "steps": state.step, "stop_reason": state.stop_reason,
    }
    checkpoint = Checkpoint.from_train_result(result, info=info) if state.step else None
    return TrainingRun(result, checkpoint, info)


__all__ = ["TrainingRun", "train_to_checkpoint"]
