"""Lesson 4: long-term dependency, live — RNN, LSTM and GRU learn to remember the first symbol."""

import streamlit as st

from rnnviz.lessons.longdep import FirstSymbolTask, LongDepConfig, summary_rows, train_side_by_side
from rnnviz.plots.longdep import curves_figure, length_sweep_figure
from ui.jobs import DONE, ERROR, Job, get_job, live_view, start_job, status_message, stop_job
from ui.lang import lang, page_text, tr
from ui.lesson import lesson_end

words = page_text("long_dependency")

JOB_KEY = "longdep_job"
TIME_BUDGET_S = 20.0  # a safety net: the default run takes well under this on one core

st.title(tr("长期依赖：现场训练 RNN、LSTM 与 GRU", "Long-term dependency, live: RNN vs LSTM vs GRU"))
st.markdown(
    tr(
        "**长期依赖**：输出取决于很多步之前的输入。上一页看到，普通 RNN 的梯度要连乘 T 个雅可比矩阵，"
        "距离一远就消失——理论上它能记住，实际上学不会。下面用一个最简单的任务现场验证。",
        "**Long-term dependency**: the output depends on an input many steps back. The previous pages "
        "showed that a plain RNN's gradient is a product of T Jacobians and vanishes with distance — it "
        "could remember in principle, but cannot learn to. Below, the simplest task that shows it, live.",
    )
)
st.subheader(tr("任务：记住第一个符号", "The task: remember the first symbol"))
c1, c2, c3, c4 = st.columns(4)
T = c1.slider(tr("序列长度 T", "sequence length T"), 5, 120, 60, 5, key="longdep_T")
steps = c2.select_slider(tr("训练步数", "training steps"), [50, 100, 150, 200, 300, 400], 200,
                         key="longdep_steps")  # fmt: skip
seed = int(c3.number_input(tr("随机种子", "seed"), 0, 999, 1, key="longdep_seed"))
chrono = c4.checkbox(tr("门偏置初始化（chrono）", "gate-bias init (chrono)"), True, key="longdep_chrono")
task = FirstSymbolTask(T)
st.markdown(
    tr(
        f"每条序列以 A/B/C/D 之一开头，后面 {T - 1} 个是随机干扰数字 0–7；标签就是第一个符号。模型只在读完"
        f"整条序列后回答，所以必须把开头记住 {T - 1} 步。随机猜测的准确率是 {task.chance:.0%}。",
        f"Each sequence starts with one of A/B/C/D, followed by {T - 1} random distractor digits 0–7; the "
        f"label is the first symbol. The model answers only after reading the whole sequence, so it "
        f"must carry the start for {T - 1} steps. Guessing scores {task.chance:.0%}.",
    )
)
st.code("\n".join(task.examples(3, seed)), language=None)


def _train(job: Job, config: LongDepConfig):
    # Runs on the worker thread: no st.* here, only the job's own state.
    return train_side_by_side(config, callback=lambda p: job.update(progress=p),
                              should_stop=job.should_stop)  # fmt: skip


b1, b2, _ = st.columns([1, 1, 4])
if b1.button(tr("开始训练", "Start training"), type="primary", key="longdep_start"):
    config = LongDepConfig(length=T, steps=steps, seed=seed, gate_bias_init=chrono,
                           time_budget_s=TIME_BUDGET_S)  # fmt: skip
    start_job(JOB_KEY, _train, config)
b2.button(tr("停止", "Stop"), key="longdep_stop", on_click=stop_job, args=(JOB_KEY,))
st.caption(
    tr(
        "三个模型（各 32 个隐藏单元、Adam、梯度裁剪 1.0）在同一批数据上同步训练；数据与初始化都由种子决定，"
        "全班用同一个种子会看到同一条曲线。",
        "Three models (32 hidden units each, Adam, gradient clipping at 1.0) train in lockstep on the same "
        "batches; data and initialisation come from the seed, so a class using one seed sees one run.",
    )
)


def _draw(job: Job) -> None:
    (st.error if job.status == ERROR else st.caption)(status_message(job, lang()))
    progress = job.snapshot().get("progress")
    if progress is None:
        return
    st.progress(progress.step / progress.total_steps,
                text=tr(f"第 {progress.step}/{progress.total_steps} 步", f"step {progress.step}/{progress.total_steps}"))  # fmt: skip
    fig = curves_figure(progress.history, progress.chance, progress.total_steps, lang())
    st.plotly_chart(fig, width="stretch", key="longdep_curves")


live_view(JOB_KEY, _draw)
job = get_job(JOB_KEY)
if job is not None and job.status == DONE and job.result is not None:
    result = job.result
    st.dataframe(summary_rows(result, lang()), hide_index=True)
    if result.stopped:
        st.warning(tr(f"达到 {TIME_BUDGET_S:.0f} 秒时间上限，提前结束（服务器较忙）；此次结果不计入下图。",
                      f"Hit the {TIME_BUDGET_S:.0f} s time limit (the server is busy); this run is left out of the chart below."))  # fmt: skip
    elif st.session_state.get("longdep_recorded") is not job:
        st.session_state["longdep_recorded"] = job
        st.session_state.setdefault("longdep_runs", []).append(
            {"length": result.config.length, **result.final_accuracy})
runs = st.session_state.get("longdep_runs", [])
if runs:
    st.plotly_chart(length_sweep_figure(runs, task.chance, lang()), width="stretch", key="longdep_sweep")
else:
    st.info(tr("试试 T = 10、30、60、100，每次运行的结果会汇总成一张「准确率 vs T」图。",
               "Try T = 10, 30, 60, 100: each run adds a point to an accuracy-vs-T chart."))  # fmt: skip

st.subheader(tr("为什么会这样", "Why"))
st.markdown(
    tr(
        "- **普通 RNN**：$h_t=\\tanh(W_{hh}h_{t-1}+W_{ih}x_t+b)$。第一个符号对损失的影响要穿过 "
        "$\\prod_t \\partial h_t/\\partial h_{t-1}$，每个因子都含 $\\tanh'\\le 1$ 与 $W_{hh}$，T 一大就几乎为 0；"
        "同时每步的干扰输入不断覆盖 h。于是 T≈10–20 时它能学会，T 更长就停在随机水平。\n"
        "- **LSTM**：细胞状态按 $c_t=f_t\\odot c_{t-1}+i_t\\odot g_t$ **相加**更新，"
        "$\\partial c_t/\\partial c_{t-1}=f_t$；遗忘门接近 1 时，信息和梯度都能几乎无损地穿过很多步。\n"
        "- **GRU**：$h_t=(1-z_t)\\odot n_t+z_t\\odot h_{t-1}$，更新门 $z_t$ 接近 1 时同理。\n"
        "- **门要从“敞开”开始**：勾选的 chrono 初始化（Tallec & Ollivier, 2018）让遗忘门/更新门的偏置"
        "$b=\\log u,\\ u\\sim U(1,T-1)$，一开始就记得约 T 步。取消勾选再运行：在同样的步数里 LSTM/GRU "
        "也可能学不会——门控让长期记忆*可能*，初始化让它*容易学到*。",
        "- **Plain RNN**: $h_t=\\tanh(W_{hh}h_{t-1}+W_{ih}x_t+b)$. The first symbol reaches the loss through "
        "$\\prod_t \\partial h_t/\\partial h_{t-1}$, each factor holding $\\tanh'\\le 1$ and $W_{hh}$: for large T it "
        "is almost 0, and every distractor overwrites h. So it learns at T≈10–20 and stays at chance beyond.\n"
        "- **LSTM**: the cell is updated by **addition**, $c_t=f_t\\odot c_{t-1}+i_t\\odot g_t$, so "
        "$\\partial c_t/\\partial c_{t-1}=f_t$: with the forget gate near 1, information and gradient cross many "
        "steps almost intact.\n"
        "- **GRU**: $h_t=(1-z_t)\\odot n_t+z_t\\odot h_{t-1}$, the same with the update gate $z_t$ near 1.\n"
        "- **Gates must start open**: the chrono init (Tallec & Ollivier, 2018) sets the forget/update gate "
        "biases to $b=\\log u,\\ u\\sim U(1,T-1)$, remembering about T steps from the start. Untick it and "
        "rerun: within the same steps LSTM/GRU may fail too — gating makes long memory *possible*, the "
        "initialisation makes it *easy to learn*.",
    )
)
lesson_end(words)
