"""The background jobs behind the training pages, run directly with a recording job: data
preparation, progress publishing, Stop keeping the best weights, uploads with line-numbered
problems, and the resumable download."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from helpers import FINANCE_POOL, SPORTS_POOL, pooled_dataset

from rnnviz.core.checkpoint import load_checkpoint
from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.data import Dataset, find_thucnews
from rnnviz.core.models import count_parameters
from rnnviz.core.training_data import check_trainable, parse_upload, sample, split_dev
from rnnviz.errors import RnnVizError
from rnnviz.jobs.training import (
    STOPPED_BY_USER,
    TrainingSpec,
    describe_config,
    plan_eval_every,
    run_download,
    run_training,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


class Recorder:
    """A job: keeps every update; says "stop" once ``stop_after`` training steps were published."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.updates: list[dict] = []
        self.stop_after = stop_after

    def update(self, **fields) -> None:
        self.updates.append(fields)

    def should_stop(self) -> bool:
        if self.stop_after is None:
            return False
        steps = [u["progress"]["step"] for u in self.updates if "progress" in u]
        return bool(steps) and steps[-1] >= self.stop_after


def synthetic(n: int = 240, seed: int = 0) -> Dataset:
    """Two classes a tiny model separates: finance words vs sports words."""
    return pooled_dataset(n, seed, {"finance": FINANCE_POOL, "sports": SPORTS_POOL})


def _spec(**kw) -> TrainingSpec:
    config = ModelConfig(model=kw.pop("model", "textrnn"), cell="gru", embed_dim=8, hidden_size=8,
                         num_layers=1, bidirectional=False, rcnn_proj=8)
    tc = TrainConfig(epochs=kw.pop("epochs", 3), batch_size=16, lr=1e-2, patience=0, device="cpu",
                     warmup_steps=0)
    return TrainingSpec(config, tc, "tiny", train_data=synthetic(), **kw)


def test_sample_and_split_are_random_disjoint_and_repeatable() -> None:
    data = synthetic(100)
    small = sample(data, 30, seed=1)
    assert len(small) == 30 and set(small.texts) <= set(data.texts)
    assert sample(data, 30, seed=1).texts == small.texts and sample(data, 0) is data
    train, dev = split_dev(data, 0.2, seed=3)
    assert (len(train), len(dev)) == (80, 20)
    keys = lambda d: {(t, y) for t, y in zip(d.texts, d.labels, strict=True)}  # noqa: E731
    assert keys(train) | keys(dev) == keys(data)
    assert split_dev(data, 0.2, seed=3)[1].texts == dev.texts
    with pytest.raises(RnnVizError, match="at least 2"):
        split_dev(data.subset(1))


def test_one_class_is_not_trainable() -> None:
    data = synthetic(20)
    only = data.take([i for i, y in enumerate(data.labels) if y == 0])
    with pytest.raises(RnnVizError, match="1 class"):
        check_trainable(only)


def test_eval_schedule_and_run_names() -> None:
    tc = TrainConfig(epochs=3, batch_size=10)
    assert plan_eval_every(100, tc, 6) == 5  # 30 steps, 6 evaluations
    assert plan_eval_every(100, TrainConfig(max_steps=7), 100) == 1
    config = ModelConfig(cell="gru", num_layers=2, hidden_size=32, bidirectional=True)
    assert describe_config(config, "en") == "Text-RNN · bi-GRU 2×32 · char"
    assert describe_config(config, "zh") == "Text-RNN · 双向 GRU 2×32 · 字"
    assert describe_config(ModelConfig(model="textrcnn", tokenizer="word", num_layers=1), "en") \
        == "RCNN · LSTM 1×128 · word"


@pytest.mark.parametrize("model", ["textrnn", "textrcnn"])
def test_training_job_publishes_progress_and_returns_a_usable_checkpoint(model: str) -> None:
    job = Recorder()
    outcome = run_training(job, _spec(model=model))
    # No dev data given: a tenth was held out; progress went out while training.
    assert (outcome.train_examples, outcome.dev_examples) == (216, 24)
    progress = [u["progress"] for u in job.updates if "progress" in u]
    assert progress[-1]["step"] == outcome.steps == outcome.total_steps == 3 * 14
    assert [p["step"] for p in progress] == sorted(p["step"] for p in progress)
    assert len(job.updates[-1]["history"]) == len(outcome.history) >= 10
    assert outcome.report is not None and outcome.report.accuracy > 0.8  # the classes are easy
    # The bytes are a checkpoint that loads and predicts like the predictor handed back.
    loaded = load_checkpoint(outcome.checkpoint_bytes, name="download")
    assert loaded.metrics == outcome.report.to_json() and loaded.info["steps"] == outcome.steps
    assert outcome.params == count_parameters(loaded.model)
    text = "基金利率上涨"
    logits = loaded.model(torch.tensor([loaded.vocab.encode(list(text))]),
                          torch.tensor([len(text)]))
    assert outcome.predictor.predict(text).label == loaded.classes[int(logits.argmax())]


def test_stop_keeps_the_best_weights_seen_so_far() -> None:
    job = Recorder(stop_after=3)
    outcome = run_training(job, _spec(epochs=50))
    assert outcome.stop_reason == STOPPED_BY_USER
    assert 3 <= outcome.steps < outcome.total_steps
    assert outcome.checkpoint is not None and outcome.report is not None  # scored before leaving
    assert outcome.history[-1]["step"] == outcome.steps


def test_stopped_before_the_first_step_keeps_nothing() -> None:
    class Stopped(Recorder):
        def should_stop(self) -> bool:
            return True

    outcome = run_training(Stopped(), _spec())
    assert outcome.steps == 0 and outcome.checkpoint is None and outcome.predictor is None


def test_folder_data_is_loaded_in_the_job_and_limited(thucnews_dir: Path) -> None:
    spec = _spec(train_limit=200, dev_limit=100)
    spec.train_data, spec.folder = None, thucnews_dir
    spec.train_config.max_steps = 2
    outcome = run_training(Recorder(), spec)
    assert (outcome.train_examples, outcome.dev_examples) == (200, 100)
    assert outcome.report.n == 100 and len(outcome.checkpoint.classes) == 10
    assert find_thucnews([thucnews_dir.parent]) == thucnews_dir


def test_find_thucnews_needs_train_and_class_files(tmp_path: Path) -> None:
    assert find_thucnews([tmp_path]) is None
    (tmp_path / "thucnews").mkdir()
    (tmp_path / "thucnews" / "train.txt").write_text("标题\t0\n", "utf-8")
    assert find_thucnews([tmp_path]) is None
    (tmp_path / "thucnews" / "class.txt").write_text("a\nb\n", "utf-8")
    assert find_thucnews([tmp_path / "absent", tmp_path]) == tmp_path / "thucnews"


def test_upload_lists_bad_lines_by_number_and_checks_the_dev_file() -> None:
    data = "体育\t国足晋级\n这一行没有制表符\n财经\t股市大涨\n\n体育\t\n".encode()
    upload = parse_upload(data, "mine.txt")
    assert upload.train.classes == ["体育", "财经"] and len(upload.train) == 2
    described = [i.describe("zh") for i in upload.reports[0].issues]
    assert described[0].startswith("第 2 行") and described[1].startswith("第 5 行：文本为空")
    dev = parse_upload(data, "mine.txt", dev_bytes="财经\t利率下调\n娱乐\t新片上映\n".encode(),
                       dev_name="d.txt")
    assert len(dev.dev) == 1 and "第 2 行" in dev.reports[1].issues[0].describe("zh")
    with pytest.raises(RnnVizError, match="cannot tell the format"):
        parse_upload(b"just text\nmore text without tabs\n", "bad.txt")
    with pytest.raises(RnnVizError, match="no valid lines.*line 1: empty text"):
        parse_upload("体育\t \n财经\t\n".encode(), "empty.txt")


def test_thucnews_upload_without_class_file_uses_the_ten_classes() -> None:
    upload = parse_upload("股市大涨\t2\n国足晋级\t7\n编号太大\t12\n".encode(), "t.txt")
    assert upload.assumed_classes and upload.train.classes[7] == "sports" and len(upload.train) == 2
    assert "第 3 行" in upload.reports[0].issues[0].describe("zh")
    named = parse_upload("股市大涨\t0\n国足晋级\t1\n".encode(), "t.txt",
                         classes_bytes="股票\n体育\n".encode())
    assert not named.assumed_classes and named.train.classes == ["股票", "体育"]


def _mirror(folder: Path) -> dict:
    """A tiny THUCNews mirror and the checks that fit it."""
    folder.mkdir()
    files = {"class.txt": "a\nb", "train.txt": "甲\t0\n乙\t1\n", "dev.txt": "丙\t0\n",
             "test.txt": "丁\t1\n"}
    for name, text in files.items():
        (folder / name).write_text(text, "utf-8")
    return {"expected_lines": {"class.txt": 2, "train.txt": 2, "dev.txt": 1, "test.txt": 1},
            "known_sha256": {"class.txt": [hashlib.sha256(b"a\nb").hexdigest()]}}


def test_download_job_reports_each_file_and_can_be_stopped(tmp_path: Path) -> None:
    overrides = _mirror(tmp_path / "mirror")
    job = Recorder()
    folder = run_download(job, tmp_path / "data", base_url=str(tmp_path / "mirror"), **overrides)
    assert folder == tmp_path / "data" / "thucnews"
    assert (folder / "train.txt").read_text("utf-8") == "甲\t0\n乙\t1\n"
    files = job.updates[-1]["files"]
    assert set(files) == {"class.txt", "train.txt", "dev.txt", "test.txt"}
    assert files["train.txt"][0] == len("甲\t0\n乙\t1\n".encode())

    class StopNow(Recorder):
        def should_stop(self) -> bool:
            return True

    stopped = run_download(StopNow(), tmp_path / "other", base_url=str(tmp_path / "mirror"),
                           **overrides)
    assert stopped is None
    assert not (tmp_path / "other" / "thucnews" / "train.txt").exists()
