"""The training loop: it learns, it is repeatable, Stop/patience/time budget keep the best
weights, batching covers every example once, evaluation matches a per-example computation."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import keyed_dataset
from torch import nn

from rnnviz.core.callbacks import TrainerCallback, TrainerControl, TrainerState
from rnnviz.core.data import Dataset, load_split
from rnnviz.core.models import ModelConfig, build_model
from rnnviz.core.text import PAD_ID, UNK_ID, Vocab, make_tokenizer
from rnnviz.core.train import (
    TrainConfig,
    TrainResult,
    encode_corpus,
    evaluate_batches,
    make_batches,
    resolve_device,
    train,
)
from rnnviz.errors import RnnVizError

TINY = ModelConfig(cell="gru", embed_dim=16, hidden_size=16, num_layers=1, dropout=0.0,
                   embed_dropout=0.0, rcnn_proj=16)


# Two shared cores: tiny models run fastest single-threaded anyway.
pytestmark = pytest.mark.usefixtures("one_torch_thread_per_test")
# Texts of noise characters with one class key (helpers.KEYS) at a random place.
TRAIN, DEV = keyed_dataset(240, 0, max_noise=12), keyed_dataset(90, 1, max_noise=12)


def quick(**overrides: object) -> TrainConfig:
    settings: dict = {"batch_size": 16, "lr": 1e-2, "warmup_steps": 0, "eval_every": 5,
                      "patience": 0, "max_steps": 40}
    return TrainConfig(**{**settings, **overrides})


def dev_batches(result: TrainResult, data: Dataset = DEV) -> list:
    """The dev batches exactly as train() builds them."""
    ids = encode_corpus(data.texts, make_tokenizer(result.config.tokenizer), result.vocab,
                        result.train_config.max_train_len)
    return make_batches(ids, data.labels, 512, shuffle=False, bucket=True)


def test_short_run_learns_on_a_thucnews_slice(thucnews_dir: Path) -> None:
    train_set = load_split(thucnews_dir, "train")[0].subset(3000)
    dev_set = load_split(thucnews_dir, "dev")[0].subset(1000)
    config = ModelConfig(cell="gru", embed_dim=32, hidden_size=32, num_layers=1, dropout=0.1)
    result = train(config, TrainConfig(batch_size=32, lr=5e-3, warmup_steps=20, max_steps=300,
                                       eval_every=100, patience=0), train_set, dev_set)
    assert result.dev_report is not None
    assert result.dev_report.n == 1000
    # Ten balanced classes: chance is 10 %; this run reaches ~55 %.
    assert result.dev_report.accuracy > 0.35
    accuracies = [h["dev_accuracy"] for h in result.history]
    assert accuracies[-1] > accuracies[0]
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.config.vocab_size == len(result.vocab) and result.config.num_classes == 10
    assert not result.model.training
    assert all(p.device.type == "cpu" for p in result.model.parameters())


def test_same_seed_gives_identical_history_and_weights() -> None:
    def run(seed: int) -> TrainResult:
        return train(TINY, quick(seed=seed, max_steps=20), TRAIN, DEV)

    def without_time(history: list[dict]) -> list[dict]:
        return [{k: v for k, v in h.items() if k != "elapsed_s"} for h in history]

    a, b, c = run(3), run(3), run(4)
    assert without_time(a.history) == without_time(b.history)
    weights_a, weights_b = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    # ...and the comparison can fail: another seed gives other weights.
    assert not torch.equal(weights_a["fc.weight"], c.model.state_dict()["fc.weight"])


class StopWhenNotImproving(TrainerCallback):
    def on_evaluate(self, state: TrainerState, control: TrainerControl) -> None:
        if state.best_step != state.step:
            control.stop("test: no improvement")


def test_stop_mid_run_returns_the_best_weights_not_the_last() -> None:
    result = train(TINY, quick(max_steps=400), TRAIN, DEV, [StopWhenNotImproving()])
    state = result.state
    assert state is not None and state.stopped_early and state.stop_reason == "test: no improvement"
    last = result.history[-1]
    assert last["step"] == state.step < 400
    best = next(h for h in result.history if h["step"] == state.best_step)
    assert best["step"] != last["step"]
    # Re-evaluating the returned model reproduces the best evaluation, not the last one.
    again = evaluate_batches(result.model, dev_batches(result), result.classes, torch.device("cpu"))
    assert again.accuracy == state.best_dev_accuracy == best["dev_accuracy"]
    assert again.loss == pytest.approx(best["dev_loss"], rel=1e-5)
    assert again.loss != pytest.approx(last["dev_loss"], rel=1e-5)
    assert result.dev_report is not None
    assert result.dev_report.loss == pytest.approx(best["dev_loss"])


class StopAtStep(TrainerCallback):
    """The Stop button: set the control from outside the loop at a given step."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        if state.step == self.step:
            control.stop()


def test_stop_between_evaluations_scores_the_last_step_before_choosing() -> None:
    result = train(TINY, quick(eval_every=5), TRAIN, DEV, [StopAtStep(7)])
    state = result.state
    assert state is not None
    assert state.step == 7 and state.stopped_early and state.stop_reason == "stopped by user"
    assert [h["step"] for h in result.history] == [5, 7]
    best_acc = max(h["dev_accuracy"] for h in result.history)
    assert result.dev_report is not None and result.dev_report.accuracy == best_acc
    again = evaluate_batches(result.model, dev_batches(result), result.classes, torch.device("cpu"))
    assert again.accuracy == best_acc


def test_patience_stops_after_evaluations_without_improvement() -> None:
    # lr 1e-30 (a config refuses 0): each step is far below float32's resolution, so the weights
    # never move and dev accuracy never improves after the first evaluation.
    frozen = quick(lr=1e-30, schedule="constant", eval_every=3, max_steps=60)
    result = train(TINY, TrainConfig(**{**frozen.to_dict(), "patience": 2}), TRAIN, DEV)
    assert [h["step"] for h in result.history] == [3, 6, 9]
    assert result.state is not None and result.state.stopped_early
    assert result.state.stop_reason.startswith("early stopping")
    never = train(TINY, TrainConfig(**{**frozen.to_dict(), "patience": 0, "max_steps": 12}),
                  TRAIN, DEV)
    assert [h["step"] for h in never.history] == [3, 6, 9, 12]
    assert never.state is not None and not never.state.stopped_early


class SlowSteps(TrainerCallback):
    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        time.sleep(0.02)


def test_time_budget_stops_and_keeps_an_evaluated_model() -> None:
    result = train(TINY, quick(time_budget_s=0.15, max_steps=5000, eval_every=1000), TRAIN, DEV,
                   [SlowSteps()])
    state = result.state
    assert state is not None and state.stopped_early
    assert "time budget" in state.stop_reason
    assert 1 <= state.step < 5000
    assert result.history[-1]["step"] == state.step  # scored before choosing the best
    assert result.dev_report is not None


def test_without_dev_set_the_last_weights_are_kept() -> None:
    result = train(TINY, quick(max_steps=10), TRAIN, None)
    assert result.dev_report is None
    assert [h["step"] for h in result.history] == [5, 10]  # train scores only
    assert all("dev_accuracy" not in h and "train_loss" in h for h in result.history)


def test_bad_training_data_is_refused() -> None:
    with pytest.raises(RnnVizError, match="empty"):
        train(TINY, quick(), Dataset([], [], ["a", "b"], "empty"), None)
    other = Dataset(DEV.texts, DEV.labels, ["x", "y", "z"], "dev")
    with pytest.raises(RnnVizError, match="class lists"):
        train(TINY, quick(), TRAIN, other)


def test_encode_corpus_cuts_and_never_returns_empty() -> None:
    vocab = Vocab.build([list("abc")])
    ids = encode_corpus(["abcabc", "  ", "zz"], make_tokenizer("char"), vocab, max_len=4)
    assert ids == [vocab.encode(list("abca")), [UNK_ID], [UNK_ID, UNK_ID]]


def random_corpus(n: int, seed: int, vocab_size: int = 20) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(2, vocab_size, rng.integers(1, 31)).tolist() for _ in range(n)]


@pytest.mark.parametrize("bucket", [True, False])
def test_make_batches_covers_every_example_once_and_pads_with_zero(bucket: bool) -> None:
    encoded = random_corpus(403, seed=5)
    labels = list(range(len(encoded)))  # the label names the example
    batches = make_batches(encoded, labels, 16, shuffle=True, bucket=bucket,
                           rng=np.random.default_rng(0))
    seen = []
    for batch in batches:
        assert batch.ids.shape[0] == len(batch.labels) <= 16
        assert batch.ids.shape[1] == int(batch.lengths.max())
        for row, j in enumerate(batch.labels.tolist()):
            n = len(encoded[j])
            assert batch.lengths[row] == n
            assert batch.ids[row, :n].tolist() == encoded[j]
            assert bool((batch.ids[row, n:] == PAD_ID).all())
        seen += batch.labels.tolist()
    assert sorted(seen) == labels
    again = make_batches(encoded, labels, 16, shuffle=True, bucket=bucket,
                         rng=np.random.default_rng(0))
    assert [b.labels.tolist() for b in again] == [b.labels.tolist() for b in batches]


def test_bucketing_cuts_padding_and_no_shuffle_keeps_order() -> None:
    encoded = random_corpus(800, seed=6)
    labels = list(range(len(encoded)))

    def padding(bucket: bool) -> int:
        batches = make_batches(encoded, labels, 32, shuffle=True, bucket=bucket,
                               rng=np.random.default_rng(1))
        return sum(int((b.ids == PAD_ID).sum()) for b in batches)

    assert padding(True) < padding(False) / 3
    plain = make_batches(encoded, labels, 32, shuffle=False, bucket=False)
    assert [y for b in plain for y in b.labels.tolist()] == labels


@pytest.mark.parametrize("model", ["textrnn", "textrcnn"])
def test_evaluate_batches_matches_a_per_example_computation(model: str) -> None:
    config = ModelConfig(model=model, vocab_size=20, num_classes=3, embed_dim=8, hidden_size=8,
                         rcnn_proj=8, pooling="mean")
    net = build_model(config).train()  # evaluation must switch dropout off, then restore
    encoded = random_corpus(57, seed=7)
    labels = np.random.default_rng(8).integers(0, 3, len(encoded)).tolist()
    batches = make_batches(encoded, labels, 8, shuffle=False, bucket=True)
    report = evaluate_batches(net, batches, ["a", "b", "c"], torch.device("cpu"))
    assert net.training

    net.eval()
    losses, predictions = [], []
    with torch.no_grad():
        for ids, y in zip(encoded, labels, strict=True):
            logits = net(torch.tensor([ids]), torch.tensor([len(ids)]))[0]  # one text, no padding
            losses.append(-torch.log_softmax(logits, -1)[y].item())
            predictions.append(int(logits.argmax()))
    assert report.loss == pytest.approx(float(np.mean(losses)), rel=1e-5)
    assert report.accuracy == pytest.approx(np.mean(np.array(predictions) == np.array(labels)))
    matrix = np.zeros((3, 3), dtype=int)
    for y, p in zip(labels, predictions, strict=True):
        matrix[y, p] += 1
    assert report.confusion_matrix == matrix.tolist()
    assert report.n == len(encoded)
    with pytest.raises(RnnVizError, match="empty"):
        evaluate_batches(net, [], ["a", "b", "c"], torch.device("cpu"))


def test_resolve_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(RnnVizError, match="cuda"):
        resolve_device("cuda")
    with pytest.raises(RnnVizError, match="mps"):
        resolve_device("mps")
    with pytest.raises(RnnVizError, match="unknown device"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_loss_goes_down_on_synthetic_keys() -> None:
    """The synthetic task is learnable: the key character decides the class."""
    result = train(TINY, quick(max_steps=60, eval_every=20), TRAIN, DEV)
    assert result.dev_report is not None and result.dev_report.accuracy > 0.9
    assert isinstance(result.model, nn.Module)
