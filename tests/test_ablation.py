"""The course's model against ours (rnnviz/lessons/ablation.py): the rungs change one thing at a
time, the ladder trains and writes what the Text-RNN page reads, the stored file is checked,
and the side-by-side table is the two reports' own numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import FINANCE_POOL, GAME_POOL, SPORTS_POOL, pooled_dataset

from rnnviz.core.config import ModelConfig
from rnnviz.core.metrics import classification_report
from rnnviz.errors import RnnVizError
from rnnviz.lessons import ablation as ab

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")
POOLS = {"stocks": FINANCE_POOL, "sports": SPORTS_POOL, "game": GAME_POOL}


def _changed(a: ModelConfig, b: ModelConfig) -> set[str]:
    return {k for k, v in a.to_dict().items() if b.to_dict().get(k) != v} | (
        set(b.to_dict()) - set(a.to_dict()))


def test_each_rung_changes_one_thing_and_the_last_is_the_shipped_recipe() -> None:
    configs = [ab.rung_config(k) for k in ab.RUNG_KEYS]
    assert [_changed(a, b) for a, b in zip(configs[:3], configs[1:4], strict=True)] == [
        {"pooling"}, {"bidirectional"}, {"bigram_dim"}]
    course = configs[0]
    assert (course.cell, course.num_layers, course.embed_dim, course.hidden_size,
            course.fc_hidden, course.pooling, course.bidirectional) == (
        "gru", 2, 64, 128, 128, "last", False)
    assert course.dropout == pytest.approx(0.2)  # TRNNConfig's dropout_keep_prob 0.8
    assert configs[-1] == ModelConfig()  # ours: the shipped Text-RNN's settings
    tc = ab.ladder_training(epochs=2)
    assert (tc.epochs, tc.max_vocab, tc.max_bigrams) == (2, 5000, 18000)
    with pytest.raises(RnnVizError, match="unknown rung"):
        ab.rung_config("attention")


def test_the_ladder_trains_and_its_json_reads_back(tmp_path: Path) -> None:
    train, dev = pooled_dataset(120, 0, POOLS), pooled_dataset(45, 1, POOLS)
    tc = ab.ladder_training(epochs=1, batch_size=32, warmup_steps=0, device="cpu")
    lines: list[str] = []
    data = ab.run_ladder(train, dev, tc, keys=("course", "max_pool"), progress=lines.append)
    assert [r["key"] for r in data["rungs"]] == ["course", "max_pool"] and len(lines) == 2
    assert data["rungs"][0]["config"]["fc_hidden"] == 128
    path = tmp_path / "ablation.json"
    path.write_text(json.dumps(data))
    ladder = ab.load_ladder(path)
    assert ladder is not None and ladder.data == {"train": 120, "dev": 45}
    a, b = (r["accuracy"] for r in data["rungs"])
    assert ladder.gains() == [None, pytest.approx(b - a)]
    rows = ab.ladder_rows(ladder, "en")
    assert rows[0]["model"] == "① the course's Text-RNN" and rows[0]["gain (points)"] == "—"
    assert rows[1]["gain (points)"] == f"{100 * (b - a):+.2f}"
    assert ladder.biggest_gain() == "max_pool"


def test_a_bad_ladder_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    assert ab.load_ladder(tmp_path / "absent.json") is None
    rung = {"key": "course", "accuracy": 0.8, "macro_f1": 0.8, "params": 1, "seconds": 1,
            "best_step": 1}
    good = {"version": 1, "train": {}, "data": {},
            "rungs": [rung, {**rung, "key": "ours", "accuracy": 0.9}]}
    assert ab.parse_ladder(good).biggest_gain() == "ours"
    for bad, match in [
        ({**good, "version": 2}, "version 1"),
        ({**good, "rungs": [{**rung, "key": "attention"}, rung]}, "unknown rung"),
        ({**good, "rungs": [{**rung, "key": "ours"}, rung]}, "out of order"),
        ({**good, "rungs": [{**rung, "accuracy": 1.2}, {**rung, "key": "ours"}]}, "outside"),
        ({**good, "rungs": [rung]}, "fewer than two"),
    ]:
        with pytest.raises(RnnVizError, match=match):
            ab.parse_ladder(bad)


def test_side_by_side_quotes_each_reports_f1_and_their_difference() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    classes = ["stocks", "sports", "game"]
    course = classification_report(y, np.where(rng.random(200) < 0.7, y, (y + 1) % 3), classes)
    ours = classification_report(y, np.where(rng.random(200) < 0.9, y, (y + 2) % 3), classes)
    rows = ab.side_by_side(course, ours, "en")
    assert [r["course's model (F1)"] for r in rows[:3]] == [
        round(course.per_class[c].f1, 4) for c in classes]
    assert rows[-2]["ours (F1)"] == round(ours.accuracy, 4)
    assert rows[-1]["ours − course (points)"] == f"{100 * (ours.macro.f1 - course.macro.f1):+.2f}"
    other = classification_report(y[:100], y[:100], classes)
    with pytest.raises(RnnVizError, match="same dev set"):
        ab.side_by_side(course, other)


def test_the_stored_ladder_reads() -> None:
    if not ab.LADDER_FILE.is_file():
        pytest.fail(f"{ab.LADDER_FILE} is missing: run bench/ablation.py")
    ladder = ab.load_ladder()
    assert ladder is not None and ladder.rungs[0].key == "course"
    assert ladder.rungs[-1].key == "ours"
