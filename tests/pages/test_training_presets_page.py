"""The training pages' presets under AppTest (issue 15): the class preset is the default on both
pages and shows its budget, its measured costs come from the benchmark's file, "custom" starts
as today's quick run, and a tiny-budget class run on a tiny THUCNews folder finishes with a
normal checkpoint scored on the whole dev set."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from apptest_helpers import chart_specs, open_page, stop_jobs
from helpers import FINANCE_POOL, GAME_POOL, SPORTS_POOL
from streamlit.testing.v1 import AppTest

import rnnviz.jobs.class_preset as class_preset
from rnnviz.content import text
from rnnviz.core.checkpoint import load_checkpoint
from rnnviz.jobs.class_preset import (
    CLASS_BUDGET_S,
    CLASS_DEV_SAMPLE,
    QUICK,
    class_model_config,
    quick_limits,
    quick_spec,
)
from rnnviz.jobs.process import available_cores, machine_cores, threads_for
from rnnviz.jobs.training import describe_config
from rnnviz.plots.report import format_seconds

PAGES = {"textrnn": ("pages/textrnn.py", "train"), "textrcnn": ("pages/textrcnn.py", "rcnn")}
N_TRAIN, N_DEV = 600, CLASS_DEV_SAMPLE + 200  # a dev set larger than the sample: both are used


def zh(key: str, **values: object) -> str:
    return text("zh", "ui/training", key, **values)


def _titles(n: int, seed: int) -> list[str]:
    """THUCNews lines (title<TAB>label id) of three classes a small model separates."""
    rng = np.random.default_rng(seed)
    pools = [FINANCE_POOL, SPORTS_POOL, GAME_POOL]
    labels = rng.integers(0, len(pools), n)
    return [f"{''.join(rng.choice(list(pools[y]), 8))}\t{y}" for y in labels]


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    """A THUCNews folder of a few hundred titles, as the data root holds it."""
    folder = tmp_path / "data" / "thucnews"
    folder.mkdir(parents=True)
    (folder / "class.txt").write_text("finance\nsports\ngame\n", encoding="utf-8")
    (folder / "train.txt").write_text("\n".join(_titles(N_TRAIN, 0)) + "\n", encoding="utf-8")
    (folder / "dev.txt").write_text("\n".join(_titles(N_DEV, 1)) + "\n", encoding="utf-8")
    return folder


def _open(model: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
          folder: Path | None = None, figures: dict | None = None) -> AppTest:
    if folder is not None:
        monkeypatch.setenv("RNNVIZ_DATA_DIR", str(folder.parent))
        # The child trains on one core at the test's own priority: the test waits for it, and
        # on a shared machine a child at a lower one can starve for minutes.
        monkeypatch.setenv("RNNVIZ_TRAIN_CORES", "1")
        monkeypatch.setenv("RNNVIZ_TRAIN_NICE", "0")
    bench = tmp_path / "class_training.json"
    if figures is not None:
        bench.write_text(json.dumps(figures), encoding="utf-8")
    monkeypatch.setattr(class_preset, "BENCH_FILE", bench)  # absent unless figures are given
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    return open_page(PAGES[model][0], monkeypatch=monkeypatch, models_dir=models)


@pytest.fixture(params=list(PAGES))
def page(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
         tmp_path: Path) -> Iterator[tuple[str, str, AppTest]]:
    model = request.param
    at = _open(model, monkeypatch, tmp_path)
    yield model, PAGES[model][1], at
    stop_jobs(at)


def test_the_class_preset_is_the_default_and_shows_its_budget(page) -> None:
    model, prefix, at = page
    assert at.radio(key=f"{prefix}_mode").value == "class"
    assert at.slider(key=f"{prefix}_class_budget").value == CLASS_BUDGET_S == 60
    assert f"{prefix}_hidden" not in [w.key for w in at.select_slider]  # no custom widgets
    config = class_model_config(model)
    captions = [c.value for c in at.caption]
    assert zh("class.model", name=describe_config(config, "zh"), embed=config.embed_dim,
              bigram=config.bigram_dim) in captions
    assert config.bigram_dim > 0 and config.num_layers == 1 and config.bidirectional
    # The diagram is the preset's model: bidirectional, one layer.
    names = [t["name"] for t in chart_specs(at)[0]["data"]]
    if model == "textrnn":
        assert [n for n in names if n.startswith("layer")] == ["layer 1 forward",
                                                               "layer 1 backward"]
    else:
        notes = " ".join(a.get("text", "") for a in chart_specs(at)[0]["layout"]["annotations"])
        assert f"→ {config.rcnn_proj}" in notes
    # Its share of the cores, said before the button.
    assert zh("threads.now", running=0, cores=available_cores(), machine=machine_cores(),
              threads=threads_for(1)) in captions
    assert at.info[0].value == zh("cost.none")  # no benchmark file here


FIGURES = {
    "machine": {"cores": 2},
    "runs": [
        {"model": m, "preset": "class", "budget_s": b, "jobs": 1, "dev_accuracy": a,
         "dev_examples": 10000, "seconds": b + 0.4}
        for m in PAGES for b, a in ((30, 0.851), (60, 0.872), (120, 0.881))
    ] + [
        {"model": m, "preset": "class", "budget_s": 60, "jobs": 2, "dev_accuracy": a,
         "dev_examples": 10000, "seconds": 60.2} for m in PAGES for a in (0.861, 0.857)
    ] + [
        {"model": m, "preset": "quick", "budget_s": 0, "jobs": 1, "dev_accuracy": 0.63,
         "dev_examples": 10000, "seconds": 16.0} for m in PAGES
    ],
    "full": {"textrnn": {"dev_accuracy": 0.8808, "seconds": 657.4},
             "textrcnn": {"dev_accuracy": 0.885, "seconds": 810.1}},
    "peer": {"textrnn": 0.859, "textrcnn": 0.868},
}


def test_the_costs_beside_the_button_are_the_benchmark_files(monkeypatch, tmp_path: Path) -> None:
    at = _open("textrcnn", monkeypatch, tmp_path, figures=FIGURES)
    shown = " ".join(m.value for m in at.markdown)
    expect = [
        zh("cost.class", cores=2, dev=10000, items=zh("cost.sep").join(
            zh("cost.item", budget=b, accuracy=a, seconds=b + 0.4)
            for b, a in ((30, 0.851), (60, 0.872), (120, 0.881)))),
        zh("cost.two", budget=60, accuracies=zh("cost.and").join(
            zh("cost.accuracy", accuracy=a) for a in (0.861, 0.857))),
        zh("cost.quick", accuracy=0.63, limit=QUICK["limit"], epochs=QUICK["epochs"], dev=10000,
           seconds=format_seconds(16.0, "zh")),
        zh("cost.full", accuracy=0.885, seconds=format_seconds(810.1, "zh")),
        zh("cost.peer", accuracy=0.868),
    ]
    for line in expect:
        assert line in shown, line
    assert "87.2%" in shown and "88.50%" in shown
    stop_jobs(at)


def test_custom_mode_starts_as_the_quick_run(monkeypatch, tmp_path: Path,
                                             tiny_folder: Path) -> None:
    at = _open("textrnn", monkeypatch, tmp_path, folder=tiny_folder)
    at.radio(key="train_mode").set_value("custom").run()
    assert at.select_slider(key="train_hidden").value == QUICK["hidden_size"]
    assert at.number_input(key="train_limit").value == QUICK["limit"]
    assert "train_class_budget" not in [w.key for w in at.slider]
    at.button(key="train_start").click().run()
    try:
        job, spec = at.session_state["train_job_spec"]
        want = quick_spec("textrnn")
        assert spec.model_config == want.model_config and spec.train_config == want.train_config
        assert (spec.train_limit, spec.dev_limit, spec.preset) == (want.train_limit,
                                                                   want.dev_limit, "")
    finally:
        stop_jobs(at)


@pytest.mark.parametrize(("model", "quick"), [("textrnn", True), ("textrcnn", False)])
def test_every_custom_setting_reaches_the_run(model: str, quick: bool, monkeypatch,
                                             tmp_path: Path, tiny_folder: Path) -> None:
    """The custom settings show nothing until a run starts: each one must reach its spec
    (tests/pages/test_no_dead_control.py counts on this test for them)."""
    at = _open(model, monkeypatch, tmp_path, folder=tiny_folder)
    p = PAGES[model][1]
    at.radio(key=f"{p}_mode").set_value("custom").run()
    at.radio(key=f"{p}_tokenizer").set_value("word")
    at.slider(key=f"{p}_epochs").set_value(7)
    at.number_input(key=f"{p}_limit").set_value(2000)
    at.toggle(key=f"{p}_quick").set_value(quick)
    at.select_slider(key=f"{p}_batch").set_value(32)
    at.select_slider(key=f"{p}_lr").set_value(5e-4)
    at.number_input(key=f"{p}_patience").set_value(9)
    at.number_input(key=f"{p}_evals").set_value(5)
    at.number_input(key=f"{p}_max_steps").set_value(321)
    at.number_input(key=f"{p}_budget").set_value(77)
    at.run()
    at.button(key=f"{p}_start").click().run()
    try:
        assert not at.exception
        _, spec = at.session_state[f"{p}_job_spec"]
        tc = spec.train_config
        assert (tc.epochs, tc.batch_size, tc.lr, tc.patience, tc.max_steps, tc.time_budget_s) \
            == (7, 32, 5e-4, 9, 321, 77.0)
        assert spec.evaluations == 5 and spec.model_config.tokenizer == "word"
        assert (spec.train_limit, spec.dev_limit) == quick_limits(quick, 2000)
    finally:
        stop_jobs(at)


@pytest.mark.parametrize("model", list(PAGES))
def test_a_tiny_budget_class_run_finishes_and_reports(model: str, monkeypatch, tmp_path: Path,
                                                      tiny_folder: Path) -> None:
    at = _open(model, monkeypatch, tmp_path, folder=tiny_folder)
    prefix = PAGES[model][1]
    at.slider(key=f"{prefix}_class_budget").set_value(10).run()
    at.button(key=f"{prefix}_start").click().run()
    try:
        assert not at.exception
        job = at.session_state["jobs_registry"][f"{prefix}_job"]
        # The countdown is drawn from the start (the child is still starting).
        bars = [b.proto.text for b in at.get("progress")]
        assert any(t.endswith(zh("countdown", left=0, budget=10).split("（")[-1])
                   or t == zh("finishing") for t in bars), bars
        end = time.monotonic() + 180
        while not job.wait(1.0) and time.monotonic() < end:
            job.beat()  # what the page's live view does while the run lasts
        assert job.status == "done", (job.status, job.error)
        at.run()
        assert not at.exception
    finally:
        stop_jobs(at)
    outcome = job.result
    assert outcome.train_examples == N_TRAIN and outcome.dev_examples == N_DEV
    assert outcome.report.n == N_DEV  # the kept weights scored on the whole dev set
    checkpoint = load_checkpoint(outcome.checkpoint_bytes, name="run")  # a normal checkpoint
    config, want = checkpoint.config, class_model_config(model)
    assert {k: v for k, v in config.to_dict().items() if k not in ("vocab_size", "bigram_vocab",
                                                                    "num_classes")} \
        == {k: v for k, v in want.to_dict().items() if k not in ("vocab_size", "bigram_vocab",
                                                                  "num_classes")}
    assert checkpoint.train_config["time_budget_s"] == 10
    assert checkpoint.train_config["dev_sample"] == CLASS_DEV_SAMPLE
    assert checkpoint.metrics["n"] == N_DEV and outcome.history
    assert zh("report.header") in [h.value for h in at.header]
    assert zh("class.done", seconds=job.elapsed_s, budget=10, dev=N_DEV) in [
        c.value for c in at.caption]
    assert at.get("download_button")
    label = outcome.predictor.predict("股市基金银行").label
    assert label in checkpoint.classes
