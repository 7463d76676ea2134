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

from rnnviz.core.data import display_class
from rnnviz.core.metrics import EvalReport, format_report
from rnnviz.core.models import POOLINGS, ModelConfig
from rnnviz.core.predict import Predictor
from rnnviz.core.train import TrainConfig
from rnnviz.errors import RnnVizError
from rnnviz.jobs.training import (
    MIN_DEV_EXAMPLES,
    TrainingOutcome,
    TrainingSpec,
    describe_config,
    find_thucnews,
    parse_upload,
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
    live_view,
    start_job,
    status_message,
    stop_job,
)
from ui.lang import lang, tr

PAGES = {"train": "textrnn", "rcnn": "textrcnn"}  # session-key prefix -> model
RUNS_KEY = "train_runs"
_SIZES = [16, 32, 64, 128, 256]


def model_widgets(prefix: str, model: str) -> ModelConfig:
    """The architecture widgets; the returned config also draws the page's diagram."""
    c1, c2, c3 = st.columns(3)
    cell = c1.radio(tr("循环单元", "Cell"), ["rnn", "lstm", "gru"], index=1, format_func=str.upper,
                    key=f"{prefix}_cell", horizontal=True)  # fmt: skip
    layers = c1.slider(tr("层数", "Layers"), 1, 3, 1, key=f"{prefix}_layers")
    hidden = c2.select_slider(tr("隐藏单元数 H", "Hidden size H"), _SIZES, 64, key=f"{prefix}_hidden")
    embed = c2.select_slider(tr("嵌入维度 E", "Embedding size E"), _SIZES, 64, key=f"{prefix}_embed")
    tokenizer = c3.radio(tr("切分", "Tokens"), ["char", "word"], key=f"{prefix}_tokenizer", horizontal=True,
                         format_func=lambda t: tr("按字", "characters") if t == "char" else tr("jieba 分词", "jieba words"))  # fmt: skip
    common = dict(model=model, cell=cell, num_layers=layers, hidden_size=hidden, embed_dim=embed, tokenizer=tokenizer)
    if model == "textrnn":
        bidirectional = c3.toggle(tr("双向", "Bidirectional"), False, key=f"{prefix}_bidirectional")
        pooling = c3.selectbox(tr("时间上的汇聚", "Pooling over time"), POOLINGS, key=f"{prefix}_pooling",
                               format_func=lambda p: {"last": tr("最后状态", "last state"), "mean": tr("平均", "mean"),
                                                      "max": tr("最大", "max"), "meanmax": tr("平均+最大", "mean+max")}[p])  # fmt: skip
        return ModelConfig(**common, bidirectional=bidirectional, pooling=pooling)
    proj = c3.select_slider(tr("tanh 投影维度", "tanh projection size"), [32, 64, 128, 256], 128, key=f"{prefix}_proj")
    return ModelConfig(**common, bidirectional=True, rcnn_proj=proj)


# ---- data ----------------------------------------------------------------------------------


def _data_choice(prefix: str) -> tuple[str, Any] | None:
    folder = find_thucnews()
    download = get_job(f"{prefix}_download_job")
    if folder and download and download.status == DONE and st.session_state.get(f"{prefix}_source") == "download":
        st.session_state[f"{prefix}_source"] = "folder"  # the download just finished: use it
    options = (["folder"] if folder else []) + ["download", "upload"]
    names = {"folder": tr("THUCNews 数据目录", "THUCNews folder"), "download": tr("下载 THUCNews", "Download THUCNews"),
             "upload": tr("上传文件", "Upload a file")}  # fmt: skip
    choice = st.radio(tr("数据来源", "Data"), options, format_func=names.get, key=f"{prefix}_source", horizontal=True)
    if choice == "folder":
        st.caption(tr(f"使用 `{folder}`（train.txt、dev.txt、class.txt）", f"Using `{folder}` (train.txt, dev.txt, class.txt)"))
        return "folder", folder
    if choice == "download":
        st.caption(tr("公开的 THUCNews 标题数据（20 万条，约 10 MB），下载后自动校验。",
                      "The public THUCNews title split (200,000 titles, about 10 MB), verified after download."))  # fmt: skip
        if st.button(tr("开始下载", "Download"), key=f"{prefix}_download"):
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
    train_file = c1.file_uploader(tr("训练文件", "Training file"), type=["txt", "tsv"], key=f"{prefix}_upload_train")
    classes_file = c2.file_uploader(tr("class.txt（THUCNews 格式可选）", "class.txt (THUCNews format, optional)"),
                                    type=["txt"], key=f"{prefix}_upload_classes")  # fmt: skip
    dev_file = c3.file_uploader(tr("验证文件（可选）", "Dev file (optional)"), type=["txt", "tsv"], key=f"{prefix}_upload_dev")
    st.caption(tr("每行一条，UTF-8：`标题<TAB>类别编号`（THUCNews）或 `类别名<TAB>文本`（cnews）。没有验证文件时随机留出 10%。",
                  "One example a line, UTF-8: `title<TAB>label id` (THUCNews) or `label name<TAB>text` (cnews). "
                  "Without a dev file a random 10% is held out."))  # fmt: skip
    if train_file is None:
        return None
    ids = tuple(f.file_id if f is not None else None for f in (train_file, classes_file, dev_file))
    cached = st.session_state.get(f"{prefix}_parsed")
    if cached is None or cached[0] != ids:  # parse once per upload, not on every rerun
        try:
            parsed: Any = parse_upload(train_file.getvalue(), train_file.name,
                                       classes_file.getvalue() if classes_file else None,
                                       dev_file.getvalue() if dev_file else None, dev_file.name if dev_file else "dev")  # fmt: skip
        except RnnVizError as err:
            parsed = err
        st.session_state[f"{prefix}_parsed"] = cached = (ids, parsed)
    upload = cached[1]
    if isinstance(upload, RnnVizError):
        st.error(tr("无法使用这个文件：", "This file cannot be used: ") + str(upload))
        return None
    for report in upload.reports:
        if report.issues_total:
            st.warning(report.summary(lang()))
            more = tr(f"… 另有 {report.issues_total - 20} 处问题", f"… and {report.issues_total - 20} more") \
                if report.issues_total > 20 else ""  # fmt: skip
            st.code("\n".join([i.describe(lang()) for i in report.issues[:20]] + ([more] if more else [])), language=None)
    if upload.assumed_classes:
        st.info(tr("没有 class.txt：按 THUCNews 的 10 个类别解释编号。", "No class.txt: label ids read as THUCNews's 10 classes."))
    names = "、".join(display_class(c, lang()) for c in upload.train.classes)
    st.success(tr(f"{len(upload.train)} 条训练样本，{len(upload.train.classes)} 个类别：{names}",
                  f"{len(upload.train)} training texts, {len(upload.train.classes)} classes: {names}"))  # fmt: skip
    return "upload", upload


# ---- training ------------------------------------------------------------------------------


def _train_widgets(prefix: str) -> tuple[TrainConfig, int, int, int]:
    c1, c2 = st.columns(2)
    epochs = c1.slider(tr("训练轮数 epochs", "Epochs"), 1, 20, 3, key=f"{prefix}_epochs")
    quick = c2.toggle(tr("快速模式：只用部分数据（一两分钟）", "Quick: part of the data (a minute or two)"), True, key=f"{prefix}_quick")
    limit = c2.number_input(tr("训练样本数", "Training examples"), 100, 500_000, 5000, 500, key=f"{prefix}_limit", disabled=not quick)
    with st.expander(tr("更多训练设置", "More training settings")):
        e1, e2, e3 = st.columns(3)
        batch = e1.select_slider("batch size", [16, 32, 64, 128, 256], 64, key=f"{prefix}_batch")
        lr = e1.select_slider(tr("学习率", "learning rate"), [5e-4, 1e-3, 2e-3, 5e-3], 2e-3, key=f"{prefix}_lr")
        patience = e2.number_input(tr("早停耐心（0 = 不早停）", "early-stopping patience (0 = off)"), 0, 50, 3, key=f"{prefix}_patience")
        evaluations = e2.number_input(tr("验证次数", "dev evaluations"), 1, 100, 12, key=f"{prefix}_evals")
        max_steps = e3.number_input(tr("最多步数（0 = 不限）", "max steps (0 = no cap)"), 0, 10**6, 0, key=f"{prefix}_max_steps")
        budget = e3.number_input(tr("时间上限（秒，0 = 不限）", "time limit (s, 0 = none)"), 0, 36_000, 600, key=f"{prefix}_budget")
    tc = TrainConfig(epochs=epochs, batch_size=batch, lr=lr, patience=int(patience), max_steps=int(max_steps),
                     time_budget_s=float(budget), device="auto")  # fmt: skip
    train_limit = int(limit) if quick else 0
    return tc, train_limit, max(MIN_DEV_EXAMPLES, train_limit // 5) if quick else 0, int(evaluations)


def training_section(prefix: str, config: ModelConfig) -> None:
    """Data, Start/Stop, live progress and, once a run ends, its report."""
    st.header(tr("数据", "Data"))
    data = _data_choice(prefix)
    st.header(tr("训练", "Training"))
    tc, train_limit, dev_limit, evaluations = _train_widgets(prefix)
    key = f"{prefix}_job"
    job = get_job(key)
    b1, b2 = st.columns(2)
    busy = job is not None and not job.finished
    if b1.button(tr("开始训练", "Start training"), key=f"{prefix}_start", type="primary", disabled=busy or data is None):
        runs = st.session_state.setdefault(RUNS_KEY, [])
        spec = TrainingSpec(model_config=config, train_config=tc, name=f"{describe_config(config, lang())} #{len(runs) + 1}",
                            train_limit=train_limit, dev_limit=dev_limit, evaluations=evaluations)  # fmt: skip
        if data[0] == "folder":
            spec.folder = data[1]
        else:
            spec.train_data, spec.dev_data = data[1].train, data[1].dev
        job = start_job(key, train_in_subprocess, spec)  # off the server's GIL
    if data is None and not busy:
        st.caption(tr("先选好数据。", "Choose the data first."))
    if job is not None and not job.finished and b2.button(tr("停止（保留最好的模型）", "Stop (keep the best model)"), key=f"{prefix}_stop"):
        stop_job(key)
    live_view(key, lambda j: _draw_training(prefix, j))
    _adopt(prefix, job)
    outcome = st.session_state.get(f"{prefix}_outcome")
    if outcome is not None:
        _show_outcome(prefix, outcome)


def _status(job: Job) -> None:
    message = status_message(job, lang())
    {ERROR: st.error, DONE: st.success, STOPPED: st.warning, QUEUED: st.info}.get(job.status, st.caption)(message)


def _draw_training(prefix: str, job: Job) -> None:
    _status(job)
    snap = job.snapshot()
    p = snap.get("progress")
    if snap.get("phase") == "starting" and p is None:
        st.caption(tr("正在启动训练进程…", "Starting the training process…"))
    if snap.get("phase") == "loading" and p is None:
        st.caption(tr("正在读取数据…", "Reading the data…"))
    if not p:
        return
    eta = rp.format_seconds(p["eta_s"], lang()) if p["eta_s"] is not None and not job.finished else "—"
    st.progress(min(1.0, p["step"] / max(1, p["total_steps"])),
                text=tr(f"第 {p['step']}/{p['total_steps']} 步 · 第 {p['epoch']:.2f}/{p['epochs']} 轮",
                        f"step {p['step']}/{p['total_steps']} · epoch {p['epoch']:.2f}/{p['epochs']}"))  # fmt: skip
    cols = st.columns(5)
    cols[0].metric(tr("训练损失", "train loss"), f"{p['loss']:.4f}")
    cols[1].metric(tr("训练准确率", "train accuracy"), f"{p['accuracy']:.2%}")
    best = p["best_dev_accuracy"]
    cols[2].metric(tr("最佳验证准确率", "best dev accuracy"), f"{best:.2%}" if best > -1 else "—")
    cols[3].metric(tr("样本/秒", "samples/s"), f"{p['samples_per_s']:.0f}")
    cols[4].metric(tr("预计剩余", "ETA"), eta)
    st.caption(tr(f"设备：{p['device']}", f"device: {p['device']}"))
    st.plotly_chart(training_curves_figure(snap.get("history", []), snap.get("live", []), lang()),
                    width="stretch", key=f"{prefix}_curves")  # fmt: skip


def _adopt(prefix: str, job: Job | None) -> None:
    """Take a finished job's outcome into the session once: report, predictor, comparison row."""
    if job is None or not job.finished or st.session_state.get(f"{prefix}_adopted") is job:
        return
    st.session_state[f"{prefix}_adopted"] = job
    outcome: TrainingOutcome | None = job.result
    if outcome is None:
        return
    st.session_state[f"{prefix}_outcome"] = outcome
    if outcome.predictor is not None:
        st.session_state[f"{prefix}_predictor"] = outcome.predictor
        summary = rp.summarize_checkpoint(outcome.checkpoint, outcome.name, "session")
        st.session_state.setdefault(RUNS_KEY, []).append(summary)


def _stop_reason(reason: str) -> str:
    if reason.startswith("stopped by user"):
        return tr("你按了停止：保留的是验证集上最好的权重。", "You pressed Stop: the best weights on the dev set were kept.")
    if reason.startswith("early stopping"):
        return tr("早停：验证集准确率多次没有提高。", "Early stopping: the dev accuracy stopped improving.")
    if reason.startswith("time budget"):
        return tr("到达时间上限，保留最好的权重。", "Time limit reached; the best weights were kept.")
    return reason


def _show_outcome(prefix: str, outcome: TrainingOutcome) -> None:
    st.header(tr("训练报告", "Training report"))
    if outcome.checkpoint is None:
        st.warning(tr("在第一步之前就停止了：没有可保留的模型。", "Stopped before the first step: no model to keep."))
        return
    st.caption(f"{outcome.name} · " + tr(f"{outcome.train_examples} 条训练、{outcome.dev_examples} 条验证，{outcome.steps} 步",
                                         f"{outcome.train_examples} training and {outcome.dev_examples} dev texts, {outcome.steps} steps"))  # fmt: skip
    if outcome.stop_reason:
        st.info(_stop_reason(outcome.stop_reason))
    report_view(outcome.report, prefix, seconds=outcome.seconds, device=outcome.device)
    st.download_button(tr("下载模型（.safetensors）", "Download the model (.safetensors)"), outcome.checkpoint_bytes,
                       file_name=f"{PAGES[prefix]}-{outcome.checkpoint.config.cell}.safetensors",
                       mime="application/octet-stream", key=f"{prefix}_save")  # fmt: skip
    st.page_link("pages/predict.py", label=tr("用它预测、看门控 →", "Predict with it and look inside →"), icon="🔍")


def report_view(report: EvalReport | None, key: str, seconds: float | None = None, device: str | None = None) -> None:
    """Loss and accuracy, the per-class table with averages, the confusion matrix."""
    if report is None:
        st.info(tr("这个模型没有保存验证集报告。", "This model has no stored dev-set report."))
        return
    cols = st.columns(5)
    cols[0].metric(tr("验证准确率", "dev accuracy"), f"{report.accuracy:.2%}")
    cols[1].metric(tr("验证损失", "dev loss"), f"{report.loss:.4f}")
    cols[2].metric(tr("宏平均 F1", "macro F1"), f"{report.macro.f1:.4f}")
    cols[3].metric(tr("训练用时", "training time"), rp.format_seconds(seconds, lang()))
    cols[4].metric(tr("设备", "device"), device or "—")
    st.dataframe(rp.localized_rows(rp.per_class_rows(report, lang()), rp.table_columns(lang())), hide_index=True, key=f"{key}_table")
    st.plotly_chart(confusion_figure(report, lang()), width="stretch", key=f"{key}_confusion")
    with st.expander(tr("经典文本报告", "The classic text report")):
        st.code(format_report(report, [display_class(c, lang()) for c in report.classes]), language=None)


# ---- what other pages read -----------------------------------------------------------------


def shipped_predictors() -> dict[str, Predictor]:
    """The shipped models present, by display name; a damaged file is reported, not fatal."""
    from ui.models import SHIPPED, load_shipped

    out = {}
    for name in SHIPPED:
        label = ("Text-RNN" if name == "textrnn" else "RCNN") + tr("（内置）", " (shipped)")
        try:
            predictor = load_shipped(name)
        except RnnVizError as err:
            st.warning(tr(f"内置模型 {name} 无法加载：{err}", f"The shipped model {name} cannot be loaded: {err}"))
            continue
        if predictor is not None:
            out[label] = predictor
    return out


def session_models() -> dict[str, Predictor]:
    """Models trained in this session, by run name (the latest per page)."""
    out = {}
    for prefix in PAGES:
        outcome = st.session_state.get(f"{prefix}_outcome")
        predictor = st.session_state.get(f"{prefix}_predictor")
        if outcome is not None and predictor is not None:
            out[outcome.name] = predictor
    return out


def model_comparison(shipped: dict[str, Predictor], key: str) -> None:
    """Every model trained in this session and every shipped one, best first."""
    rows: list[rp.ModelSummary] = [rp.summarize_checkpoint(p.checkpoint, name, "shipped") for name, p in shipped.items()]
    rows += st.session_state.get(RUNS_KEY, [])
    if not rows:
        st.info(tr("还没有可比较的模型：训练一个，或等待内置模型。", "Nothing to compare yet: train a model, or wait for the shipped ones."))
        return
    st.dataframe(rp.comparison_rows(rows, lang()), hide_index=True, key=key)
