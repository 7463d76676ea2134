"""The training pages' presets (rnnviz/jobs/class_preset.py): the class preset trains on all the
data against a budget with the LR fitted to it, the quick preset is today's quick run, and the
measured figures the pages show are read from the benchmark's file and checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnviz.core.config import MODELS, ModelConfig
from rnnviz.jobs.class_preset import (
    BENCH_FILE,
    CLASS_BUDGET_S,
    CLASS_DEV_SAMPLE,
    CLASS_EVALUATIONS,
    class_model_config,
    class_spec,
    load_figures,
    parse_figures,
    quick_spec,
)


@pytest.mark.parametrize("model", MODELS)
def test_the_class_preset_trains_on_everything_against_the_clock(model: str) -> None:
    spec = class_spec(model, 90)
    tc = spec.train_config
    assert spec.preset == "class" and (spec.train_limit, spec.dev_limit) == (0, 0)  # all data
    assert tc.time_budget_s == 90 and tc.eval_every_s == 90 / CLASS_EVALUATIONS
    assert tc.eval_every == 0 and tc.patience == 0  # the clock decides, not steps or patience
    assert tc.dev_sample == CLASS_DEV_SAMPLE and tc.embed_lr_scale > 1
    assert class_spec(model).train_config.time_budget_s == CLASS_BUDGET_S == 60
    config = spec.model_config
    assert config == class_model_config(model) and config.model == model
    # What the shipped models prove: bigram embeddings, pooling; one layer for speed.
    assert config.bigram_dim > 0 and config.num_layers == 1 and config.bidirectional
    if model == "textrnn":
        assert config.pooling == "max"


@pytest.mark.parametrize("model", MODELS)
def test_the_quick_preset_is_the_quick_run_the_pages_started_with(model: str) -> None:
    """Today's defaults, written out: 5,000 titles (1,000 dev), 3 epochs, LSTM 1x64, batch 64."""
    spec = quick_spec(model)
    tc, config = spec.train_config, spec.model_config
    assert (spec.train_limit, spec.dev_limit, spec.evaluations) == (5000, 1000, 12)
    assert (tc.epochs, tc.batch_size, tc.lr, tc.patience, tc.time_budget_s) == (3, 64, 2e-3, 3,
                                                                                 600)
    assert (config.cell, config.num_layers, config.hidden_size, config.embed_dim) == (
        "lstm", 1, 64, 64)
    assert spec.preset == "" and tc.embed_lr_scale == 1.0
    if model == "textrnn":
        assert not config.bidirectional and config.pooling == "last"
    else:
        assert config.rcnn_proj == 128
    assert config.bigram_dim == ModelConfig.bigram_dim  # the default: bigrams on


def _figures(**changes: object) -> dict:
    data = {
        "machine": {"cores": 2},
        "runs": [
            {"model": "textrnn", "preset": "class", "budget_s": b, "jobs": 1,
             "dev_accuracy": a, "dev_examples": 10000, "seconds": b + 1.0}
            for b, a in ((120, 0.9), (30, 0.85), (60, 0.88))
        ] + [{"model": "textrnn", "preset": "class", "budget_s": 60, "jobs": 2,
              "dev_accuracy": 0.87, "dev_examples": 10000, "seconds": 61.0},
             {"model": "textrnn", "preset": "quick", "budget_s": 0, "jobs": 1,
              "dev_accuracy": 0.63, "dev_examples": 10000, "seconds": 15.0}],
        "full": {"textrnn": {"dev_accuracy": 0.8808, "seconds": 657.4}},
        "peer": {"textrnn": 0.859, "other": 0.5},
    }
    data.update(changes)
    return data


def test_figures_are_read_and_looked_up() -> None:
    figures = parse_figures(_figures())
    assert [r.budget_s for r in figures.budgets("textrnn")] == [30, 60, 120]  # shortest first
    assert figures.budgets("textrcnn") == []
    assert figures.run("textrnn", "class", 60, jobs=2).dev_accuracy == 0.87
    assert [r.dev_accuracy for r in figures.together("textrnn", 60)] == [0.87]
    assert figures.together("textrnn", 30) == []
    assert figures.run("textrnn", "class", 100).budget_s == 120  # the nearest measured
    assert figures.run("textrnn", "quick").seconds == 15.0
    assert figures.run("textrcnn", "quick") is None
    assert figures.full == {"textrnn": (0.8808, 657.4)}
    assert figures.peer == {"textrnn": 0.859} and figures.cores == 2


@pytest.mark.parametrize("bad", [
    {"runs": [{"model": "textrnn", "preset": "class", "budget_s": 60, "jobs": 1,
               "dev_accuracy": 1.5, "dev_examples": 10, "seconds": 60}]},  # accuracy > 1
    {"runs": [{"model": "textrnn", "preset": "warp", "budget_s": 60, "jobs": 1,
               "dev_accuracy": 0.5, "dev_examples": 10, "seconds": 60}]},  # unknown preset
    {"runs": [{"model": "textrnn", "preset": "class", "budget_s": "60", "jobs": 1,
               "dev_accuracy": 0.5, "dev_examples": 10, "seconds": 60}]},  # a string
    {"runs": [{"model": "textrnn", "preset": "class", "budget_s": 60, "jobs": 1,
               "dev_accuracy": float("nan"), "dev_examples": 10, "seconds": 60}]},
    {"machine": {}},
])
def test_a_damaged_file_reads_as_not_measured(tmp_path: Path, bad: dict) -> None:
    path = tmp_path / "figures.json"
    path.write_text(json.dumps(_figures(**bad)), encoding="utf-8")
    assert load_figures(path) is None
    path.write_text("{not json", encoding="utf-8")
    assert load_figures(path) is None
    assert load_figures(tmp_path / "absent.json") is None


def test_the_committed_benchmark_file_reads() -> None:
    """The file bench/class_training.py wrote is what the pages read: it parses, and holds
    every budget for both models."""
    if not BENCH_FILE.is_file():
        pytest.fail(f"{BENCH_FILE} is missing: run python bench/class_training.py")
    figures = load_figures()
    assert figures is not None
    for model in MODELS:
        assert [r.budget_s for r in figures.budgets(model)] == [30, 60, 120]
        assert figures.run(model, "quick") is not None
        assert len(figures.together(model, 60)) == 2
        assert model in figures.full and model in figures.peer
