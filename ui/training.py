"""The training section both classifier pages share: model widgets -> ModelConfig, the data
choice (THUCNews folder, download, upload), start/stop in a background job (ui.jobs), the live
view, and the report. Every number and figure comes from rnnviz; this file only lays it out.

Session keys are prefixed by the page ("train" for Text-RNN, "rcnn" for RCNN). A finished run
leaves ``{prefix}_outcome`` (report, checkpoint bytes) and ``{prefix}_predictor`` (what the
predict page offers as "trained in this session"); every run's summary is appended to
``train_runs`` for the comparison table.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from rnnviz.content import literal
from rnnviz.core.classes import display_class
from rnnviz.core.config import CELL_NAMES, CELLS, POOLINGS, TOKENIZERS, ModelConfig, TrainConfig
from rnnviz.core.data import find_thucnews
from rnnviz.core.metrics import EvalReport, format_report
from rnnviz.core.predict import Predictor
from rnnviz.core.training_data import parse_upload
from rnnviz.errors import RnnVizError
from rnnviz.jobs.class_preset import (
    BUDGET_RANGE,
    CLASS_BUDGET_S,
    CLASS_DEV_SAMPLE,
    CLASS_EVALUATIONS,
    QUICK,
    Figures,
    class_model_config,
    class_spec,
    load_figures,
    quick_limits,
)
from rnnviz.jobs.process import available_cores, machine_cores, threads_for
from rnnviz.jobs.training import (
    TrainingOutcome,
    TrainingSpec,
    describe_config,
    run_download,
    train_in_subprocess,
)
from rnnviz.plots import report as rp
from rnnviz.plots.classifier import confusion_figure, training_curves_figure
from ui.jobs import (
    DONE,
    ERROR,
    QUEUED,
    STOPPED,
    Job,
    get_job,
    job_runner,
    live_view,
    start_job,
    status_message,
    stop_job,
)
from ui.lang import lang, page_text

PAGES = {"train": "textrnn", "rcnn": "textrcnn"}  # session-key prefix -> model
_T = page_text("ui/training")  # the words: content/<lang>/ui/training.md
RUNS_KEY = "train_runs"
_SIZES = [16, 32, 64, 128, 256]
MODES = ("class", "custom")  # the class preset (the default), or every setting by hand


def training_mode(prefix: str) -> str:
    """The class preset or custom settings (rnnviz/jobs/class_preset.py); it decides both the
    architecture and the training widgets, so the page asks it first."""
    return st.radio(_T("mode"), MODES, key=f"{prefix}_mode", horizontal=True,
                    format_func=lambda m: _T(f"mode.{m}"))


def model_widgets(prefix: str, model: str, mode: str = "custom") -> ModelConfig:
    """The architecture widgets (the class preset's architecture is fixed and described); the
    returned config also draws the page's diagram."""
    if mode == "class":
        config = class_model_config(model)
        st.caption(_T("class.model", name=describe_config(config, lang()),
                      embed=config.embed_dim, bigram=config.bigram_dim))
        return config
    q = QUICK
    c1, c2, c3 = st.columns(3)
    cell = c1.radio(_T("cell"), CELLS, index=CELLS.index(q["cell"]),
                    format_func=CELL_NAMES.get, key=f"{prefix}_cell", horizontal=True)
    layers = c1.slider(_T("layers"), 1, 3, q["num_layers"], key=f"{prefix}_layers")
    hidden = c2.select_slider(_T("hidden"), _SIZES, q["hidden_size"], key=f"{prefix}_hidden")
    embed = c2.select_slider(_T("embed"), _SIZES, q["embed_dim"], key=f"{prefix}_embed")
    tokenizer = c3.radio(_T("tokens"), TOKENIZERS, index=TOKENIZERS.index(q["tokenizer"]),
                         key=f"{prefix}_tokenizer", horizontal=True,
                         format_func=lambda t: _T(f"tokens.{t}"))
    common = dict(model=model, cell=cell, num_layers=layers, hidden_size=hidden, embed_dim=embed,
                  tokenizer=tokenizer)
    if model == "textrnn":
        bidirectional = c3.toggle(_T("bidirectional"), q["bidirectional"],
                                  key=f"{prefix}_bidirectional")
        pooling = c3.selectbox(_T("pooling"), POOLINGS, index=POOLINGS.index(q["pooling"]),
                               key=f"{prefix}_pooling", format_func=lambda p: _T(f"pooling.{p}"))
        return ModelConfig(**common, bidirectional=bidirectional, pooling=pooling)
    proj = c3.select_slider(_T("proj"), [32, 64, 128, 256], q["rcnn_proj"], key=f"{prefix}_proj")
    return ModelConfig(**common, bidirectional=True, rcnn_proj=proj)


# ---- data ----------------------------------------------------------------------------------


def _data_choice(prefix: str) -> tuple[str, Any] | None:
    folder = find_thucnews()
    download = get_job(f"{prefix}_download_job")
    chose_download = st.session_state.get(f"{prefix}_source") == "download"
    if folder and download and download.status == DONE and chose_download:
        st.session_state[f"{prefix}_source"] = "folder"  # the download just finished: use it
    options = (["folder"] if folder else []) + ["download", "upload"]
    choice = st.radio(_T("source"), options, format_func=lambda o: _T(f"source.{o}"),
                      key=f"{prefix}_source", horizontal=True)
    if choice == "folder":
        st.caption(_T("folder.caption", folder=folder))
        return "folder", folder
    if choice == "download":
        st.caption(_T("download.caption"))
        if st.button(_T("download.button"), key=f"{prefix}_download"):
            start_job(f"{prefix}_download_job", run_download)
        live_view(f"{prefix}_download_job", _draw_download)
        return None
    return _upload(prefix)


def _draw_download(job: Job) -> None:
    _status(job)
    for name, (done, total) in job.snapshot().get("files", {}).items():
        text = f"{name}: {done / 2**20:.1f}" + (f" / {total / 2**20:.1f} MiB" if total else " MiB")
        st.progress(min(1.0, done / total) if total else 0.0, text=text)


def _upload(prefix: str) -> tuple[str, Any] | None:
    c1, c2, c3 = st.columns(3)
    train_file = c1.file_uploader(_T("upload.train"), type=["txt", "tsv"],
                                  key=f"{prefix}_upload_train")
    classes_file = c2.file_uploader(_T("upload.classes"), type=["txt"],
                                    key=f"{prefix}_upload_classes")
    dev_file = c3.file_uploader(_T("upload.dev"), type=["txt", "tsv"], key=f"{prefix}_upload_dev")
    st.caption(_T("upload.caption"))
    if train_file is None:
        return None
    ids = tuple(f.file_id if f is not None else None for f in (train_file, classes_file, dev_file))
    cached = st.session_state.get(f"{prefix}_parsed")
    if cached is None or cached[0] != ids:  # parse once per upload, not on every rerun
        try:
            parsed: Any = parse_upload(
                train_file.getvalue(), train_file.name,
                classes_file.getvalue() if classes_file else None,
                dev_file.getvalue() if dev_file else None, dev_file.name if dev_file else "dev",
            )
        except RnnVizError as err:
            parsed = err
        st.session_state[f"{prefix}_parsed"] = cached = (ids, parsed)
    upload = cached[1]
    if isinstance(upload, RnnVizError):
        st.error(_T("upload.error", error=literal(str(upload))))  # it quotes the file's name
        return None
    for report in upload.reports:
        if report.issues_total:
            st.warning(report.summary(lang()))
            lines = [i.describe(lang()) for i in report.issues[:20]]
            if report.issues_total > 20:
                lines.append(_T("upload.more", n=report.issues_total - 20))
            st.code("\n".join(lines), language=None)
    if upload.assumed_classes:
        st.info(_T("upload.assumed"))
    # Class names come from the uploaded file: shown as typed, never as Markdown.
    names = " · ".join(literal(display_class(c, lang())) for c in upload.train.classes)
    st.success(_T("upload.ok", n=len(upload.train), k=len(upload.train.classes), names=names))
    return "upload", upload


# ---- training ------------------------------------------------------------------------------


def _train_widgets(prefix: str) -> tuple[TrainConfig, int, int, int]:
    q = QUICK  # the widgets start as today's quick run (rnnviz/jobs/class_preset.quick_spec)
    c1, c2 = st.columns(2)
    epochs = c1.slider(_T("epochs"), 1, 20, q["epochs"], key=f"{prefix}_epochs")
    quick = c2.toggle(_T("quick"), q["quick"], key=f"{prefix}_quick")
    limit = c2.number_input(_T("limit"), 100, 500_000, q["limit"], 500, key=f"{prefix}_limit",
                            disabled=not quick)
    with st.expander(_T("more")):
        e1, e2, e3 = st.columns(3)
        batch = e1.select_slider(_T("batch"), [16, 32, 64, 128, 256], q["batch_size"],
                                 key=f"{prefix}_batch")
        lr = e1.select_slider(_T("lr"), [5e-4, 1e-3, 2e-3, 5e-3], q["lr"], key=f"{prefix}_lr")
        patience = e2.number_input(_T("patience"), 0, 50, q["patience"], key=f"{prefix}_patience")
        evaluations = e2.number_input(_T("evals"), 1, 100, q["evaluations"],
                                      key=f"{prefix}_evals")
        max_steps = e3.number_input(_T("max_steps"), 0, 10**6, q["max_steps"],
                                    key=f"{prefix}_max_steps")
        budget = e3.number_input(_T("budget"), 0, 36_000, q["time_budget_s"],
                                 key=f"{prefix}_budget")
    tc = TrainConfig(epochs=epochs, batch_size=batch, lr=lr, patience=int(patience),
                     max_steps=int(max_steps), time_budget_s=float(budget), device="auto")
    train_limit, dev_limit = quick_limits(quick, int(limit))
    return tc, train_limit, dev_limit, int(evaluations)


def _class_widgets(prefix: str, model: str) -> float:
    """The class preset's one setting, the budget, and what the choice costs (measured)."""
    low, high, step = BUDGET_RANGE
    budget = st.slider(_T("class.budget"), low, high, CLASS_BUDGET_S, step,
                       key=f"{prefix}_class_budget")
    st.caption(_T("class.caption", every=budget / CLASS_EVALUATIONS, sample=CLASS_DEV_SAMPLE))
    _costs(model, load_figures())
    st.caption(_T("class.fair"))
    return float(budget)


def _costs(model: str, figures: Figures | None) -> None:
    """What the preset reached when measured, against the quick run and a full one."""
    if figures is None:
        st.info(_T("cost.none"))
        return
    lines = []
    alone = figures.budgets(model)
    if alone:
        items = _T("cost.sep").join(_T("cost.item", budget=r.budget_s, accuracy=r.dev_accuracy,
                                       seconds=r.seconds) for r in alone)
        lines.append(_T("cost.class", cores=figures.cores, items=items,
                        dev=alone[0].dev_examples))
    two = figures.together(model, CLASS_BUDGET_S)
    if two:
        each = _T("cost.and").join(_T("cost.accuracy", accuracy=r.dev_accuracy) for r in two)
        lines.append(_T("cost.two", budget=CLASS_BUDGET_S, accuracies=each))
    quick = figures.run(model, "quick")
    if quick is not None:
        lines.append(_T("cost.quick", accuracy=quick.dev_accuracy, limit=QUICK["limit"],
                        epochs=QUICK["epochs"], dev=quick.dev_examples,
                        seconds=rp.format_seconds(quick.seconds, lang())))
    if model in figures.full:
        accuracy, seconds = figures.full[model]
        lines.append(_T("cost.full", accuracy=accuracy, seconds=rp.format_seconds(seconds, lang())))
    if model in figures.peer:
        lines.append(_T("cost.peer", accuracy=figures.peer[model]))
    st.markdown("\n".join(f"- {line}" for line in lines))


def _threads_line() -> None:
    """How many cores a run started now gets: its share beside the trainings running."""
    running, _ = job_runner().counts()
    cores = available_cores()
    st.caption(_T("threads.now", running=running, cores=cores, machine=machine_cores(),
                  threads=threads_for(running + 1, cores)))


def training_section(prefix: str, config: ModelConfig, mode: str = "custom") -> None:
    """Data, Start/Stop, live progress and, once a run ends, its report. ``mode`` "class": the
    class preset (its budget and measured costs); "custom": every training setting."""
    st.header(_T("data.header"))
    data = _data_choice(prefix)
    st.header(_T("training.header"))
    if mode == "class":
        budget = _class_widgets(prefix, config.model)
    else:
        tc, train_limit, dev_limit, evaluations = _train_widgets(prefix)
    _threads_line()
    key = f"{prefix}_job"
    job = get_job(key)
    b1, b2 = st.columns(2)
    busy = job is not None and not job.finished
    if b1.button(_T("start"), key=f"{prefix}_start", type="primary",
                 disabled=busy or data is None):
        runs = st.session_state.setdefault(RUNS_KEY, [])
        name = f"{describe_config(config, lang())} #{len(runs) + 1}"
        if mode == "class":
            spec = class_spec(config.model, budget, name)
        else:
            spec = TrainingSpec(model_config=config, train_config=tc, name=name,
                                train_limit=train_limit, dev_limit=dev_limit,
                                evaluations=evaluations)
        if data[0] == "folder":
            spec.folder = data[1]
        else:
            spec.train_data, spec.dev_data = data[1].train, data[1].dev
        runner = job_runner()  # the worker asks it, not st.cache_resource (ui/jobs.py)
        # Off the server's GIL; the child's threads are its share of the cores among the
        # trainings running (this one included), asked again while it runs.
        job = start_job(key, train_in_subprocess, spec,
                        threads=lambda: threads_for(runner.counts()[0]))
        st.session_state[f"{prefix}_job_spec"] = (job, spec)  # its data, for session_dev_specs
    if data is None and not busy:
        st.caption(_T("need_data"))
    if job is not None and not job.finished and b2.button(_T("stop"), key=f"{prefix}_stop"):
        stop_job(key)
    live_view(key, lambda j: _draw_training(prefix, j))
    _adopt(prefix, job)
    outcome = st.session_state.get(f"{prefix}_outcome")
    if outcome is not None:
        _show_outcome(prefix, outcome)


def _status(job: Job) -> None:
    show = {ERROR: st.error, DONE: st.success, STOPPED: st.warning, QUEUED: st.info}
    show.get(job.status, st.caption)(status_message(job, lang()))


def _budget_of(prefix: str, job: Job) -> float:
    """The class-preset budget ``job`` runs under; 0 for a custom run."""
    started = st.session_state.get(f"{prefix}_job_spec")
    if started and started[0] is job and started[1].preset == "class":
        return started[1].train_config.time_budget_s
    return 0.0


def _draw_training(prefix: str, job: Job) -> None:
    _status(job)
    snap = job.snapshot()
    p = snap.get("progress")
    budget = _budget_of(prefix, job)
    # The countdown: from the moment the run left the queue, as the trainer counts it.
    left = max(0.0, budget - job.elapsed_s)
    if budget and not job.finished:
        text = _T("countdown", left=left, budget=budget) if left else _T("finishing")
        st.progress(min(1.0, job.elapsed_s / budget), text=text)
    if snap.get("phase") == "starting" and p is None:
        st.caption(_T("starting"))
    if snap.get("phase") == "loading" and p is None:
        st.caption(_T("loading"))
    if not p:
        return
    running = p["eta_s"] is not None and not job.finished
    eta = rp.format_seconds(p["eta_s"], lang()) if running else "—"
    if budget:
        st.caption(_T("progress.class", step=p["step"], epoch=p["epoch"]))
    else:
        st.progress(min(1.0, p["step"] / max(1, p["total_steps"])),
                    text=_T("progress", step=p["step"], total=p["total_steps"],
                            epoch=p["epoch"], epochs=p["epochs"]))
    cols = st.columns(5)
    cols[0].metric(_T("metric.train_loss"), f"{p['loss']:.4f}")
    cols[1].metric(_T("metric.train_accuracy"), f"{p['accuracy']:.2%}")
    best = p["best_dev_accuracy"]
    cols[2].metric(_T("metric.best_dev"), f"{best:.2%}" if best > -1 else "—")
    cols[3].metric(_T("metric.samples"), f"{p['samples_per_s']:.0f}")
    if budget:
        shown = rp.format_seconds(left, lang()) if not job.finished else "—"
        cols[4].metric(_T("metric.left"), shown)
    else:
        cols[4].metric(_T("metric.eta"), eta)
    st.caption(_T("device", device=p["device"], threads=p.get("threads", 1)))
    st.plotly_chart(training_curves_figure(snap.get("history", []), snap.get("live", []), lang()),
                    width="stretch", key=f"{prefix}_curves")
    st.caption(_T("curves.caption"))


def _adopt(prefix: str, job: Job | None) -> None:
    """Take a finished job's outcome into the session once: report, predictor, comparison row."""
    if job is None or not job.finished or st.session_state.get(f"{prefix}_adopted") is job:
        return
    st.session_state[f"{prefix}_adopted"] = job
    outcome: TrainingOutcome | None = job.result
    if outcome is None:
        return
    st.session_state[f"{prefix}_outcome"] = outcome
    started = st.session_state.get(f"{prefix}_job_spec")
    st.session_state[f"{prefix}_spec"] = started[1] if started and started[0] is job else None
    budget = _budget_of(prefix, job)  # a class-preset run: its time from the button, kept
    st.session_state[f"{prefix}_wall"] = (job.elapsed_s, budget) if budget else None
    if outcome.predictor is not None:
        st.session_state[f"{prefix}_predictor"] = outcome.predictor
        summary = rp.summarize_checkpoint(outcome.checkpoint, outcome.name, "session")
        st.session_state.setdefault(RUNS_KEY, []).append(summary)


def _stop_reason(reason: str) -> str:
    if reason.startswith("stopped by user"):
        return _T("stopped.user")
    if reason.startswith("early stopping"):
        return _T("stopped.early")
    if reason.startswith("time budget"):
        return _T("stopped.time")
    return reason


def _show_outcome(prefix: str, outcome: TrainingOutcome) -> None:
    st.header(_T("report.header"))
    if outcome.checkpoint is None:
        st.warning(_T("report.empty"))
        return
    st.caption(_T("report.caption", name=outcome.name, train=outcome.train_examples,
                  dev=outcome.dev_examples, steps=outcome.steps))
    if outcome.stop_reason:
        st.info(_stop_reason(outcome.stop_reason))
    wall = st.session_state.get(f"{prefix}_wall")
    if wall:
        st.caption(_T("class.done", seconds=wall[0], budget=wall[1], dev=outcome.dev_examples))
    report_view(outcome.report, prefix, seconds=outcome.seconds, device=outcome.device)
    st.download_button(_T("download"), outcome.checkpoint_bytes,
                       file_name=f"{PAGES[prefix]}-{outcome.checkpoint.config.cell}.safetensors",
                       mime="application/octet-stream", key=f"{prefix}_save")
    st.page_link("pages/predict.py", label=_T("predict_link"), icon="🔍")


def report_view(report: EvalReport | None, key: str, seconds: float | None = None,
                device: str | None = None) -> None:
    """Loss and accuracy, the per-class table with averages, the confusion matrix."""
    if report is None:
        st.info(_T("report.none"))
        return
    cols = st.columns(5)
    cols[0].metric(_T("metric.dev_accuracy"), f"{report.accuracy:.2%}")
    cols[1].metric(_T("metric.dev_loss"), f"{report.loss:.4f}")
    cols[2].metric(_T("metric.macro_f1"), f"{report.macro.f1:.4f}")
    cols[3].metric(_T("metric.seconds"), rp.format_seconds(seconds, lang()))
    cols[4].metric(_T("metric.device"), device or "—")
    rows = rp.localized_rows(rp.per_class_rows(report, lang()), rp.table_columns(lang()))
    st.dataframe(rows, hide_index=True, key=f"{key}_table")
    st.plotly_chart(confusion_figure(report, lang()), width="stretch", key=f"{key}_confusion")
    with st.expander(_T("classic")):
        # Every report shown here is a dev-set one (a run's best evaluation, or a
        # checkpoint's stored report): format_report labels it "dev".
        names = [display_class(c, lang()) for c in report.classes]
        st.code(format_report(report, names, split="dev"), language=None)


# ---- what other pages read -----------------------------------------------------------------


def shipped_label(name: str) -> str:
    """How a shipped model is listed: "Text-RNN (shipped)"; a model named after what it is
    rather than its class (the course's GRU Text-RNN) has its name in the content file."""
    model = rp.MODEL_NAMES.get(name) or _T(f"name.{name}")
    return _T("shipped", model=model)


def shipped_predictors() -> dict[str, Predictor]:
    """The shipped models present, by display name; a damaged file is reported, not fatal."""
    from ui.models import SHIPPED, load_shipped

    out = {}
    for name in SHIPPED:
        label = shipped_label(name)
        try:
            predictor = load_shipped(name)
        except RnnVizError as err:
            st.warning(_T("shipped.error", name=name, error=literal(str(err))))
            continue
        if predictor is not None:
            out[label] = predictor
    return out


def _by_run(what: str) -> dict[str, Any]:
    """``<prefix>_<what>`` of each training page's latest run, by run name."""
    out = {}
    for prefix in PAGES:
        outcome = st.session_state.get(f"{prefix}_outcome")
        value = st.session_state.get(f"{prefix}_{what}")
        if outcome is not None and value is not None:
            out[outcome.name] = value
    return out


def session_dev_specs() -> dict[str, TrainingSpec]:
    """What each model trained in this session was trained on, by run name (the error page
    rebuilds the run's dev set from it: rnnviz.core.training_data.run_datasets)."""
    return _by_run("spec")


def session_models() -> dict[str, Predictor]:
    """Models trained in this session, by run name (the latest per page)."""
    return _by_run("predictor")


def model_comparison(shipped: dict[str, Predictor], key: str) -> None:
    """Every model trained in this session and every shipped one, best first."""
    rows: list[rp.ModelSummary] = [rp.summarize_checkpoint(p.checkpoint, name, "shipped")
                                   for name, p in shipped.items()]
    rows += st.session_state.get(RUNS_KEY, [])
    if not rows:
        st.info(_T("comparison.empty"))
        return
    st.dataframe(rp.comparison_rows(rows, lang()), hide_index=True, key=key)
