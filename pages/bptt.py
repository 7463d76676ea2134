"""Lesson 3: backpropagation through time — derivation, hand-written check, truncation."""

import inspect

import numpy as np
import streamlit as st

from rnnviz.lessons.bptt import (
    CELL_KINDS,
    bptt_gradients,
    compare_with_autograd,
    derivation_steps,
    hidden_contributions,
    hidden_gradient_norms,
    random_params,
    random_sequence,
    relative_change,
)
from rnnviz.lessons.unrolled import ACTIVATIONS
from rnnviz.plots.bptt import check_table, contributions_figure, grad_norm_figure
from ui.lang import lang, page_text, tr
from ui.lesson import lesson_end

words = page_text("bptt")

TOLERANCE = 1e-10
CHECK_T = 12  # sequence length of the hand-vs-autograd check
TRUNC_T = 24  # sequence length of the truncation picture

st.title(tr("BPTT：沿时间反向传播", "BPTT: backpropagation through time"))
st.markdown(
    tr(
        "把 RNN 按时间展开，就是一个共享权重的深层网络；对它做普通的反向传播，就是 BPTT。"
        "下面按课程的记号一步步推导 U、W、V 的梯度。",
        "Unrolled in time, an RNN is a deep network with shared weights; ordinary backprop on it is "
        "BPTT. Below, the gradients of U, W and V step by step, in the course's notation.",
    )
)
for i, (text, tex) in enumerate(derivation_steps(lang()), start=1):
    st.markdown(f"**{i}.** {text}")
    st.latex(tex)

st.header(tr("手写 BPTT 与 autograd 对照", "Hand-written BPTT against autograd"))
st.markdown(
    tr(
        f"一个 5 单元的 RNN、{CHECK_T} 步随机序列、每步一个类别标签；下面的函数只用 numpy 和显式的时间循环"
        "实现上面的公式，表格比较它与 PyTorch autograd（float64）算出的梯度。",
        f"A 5-unit RNN, a random {CHECK_T}-step sequence with a class label at every step. The "
        "function below implements the formulas above with numpy and explicit loops over time; the "
        "table compares its gradients with PyTorch autograd (float64).",
    )
)
act = st.radio(tr("激活函数 f", "Activation f"), ACTIVATIONS, key="bptt_act", horizontal=True)
params = random_params()
x, y = random_sequence(CHECK_T)
rows = compare_with_autograd(params, x, y, act)
worst = max(r.max_abs_diff for r in rows)
st.dataframe(check_table(rows, TOLERANCE, lang()), hide_index=True)
st.metric(tr("所有梯度的最大绝对差", "Largest absolute difference, all gradients"), f"{worst:.2e}")
(st.success if worst < TOLERANCE else st.error)(
    tr(f"手写 BPTT 与 autograd 一致：最大差 {worst:.2e} < 容差 {TOLERANCE:g}（float64）。",
       f"Hand-written BPTT agrees with autograd: largest difference {worst:.2e} < tolerance {TOLERANCE:g} (float64).")
    if worst < TOLERANCE
    else tr(f"差异 {worst:.2e} 超过容差 {TOLERANCE:g}！", f"Difference {worst:.2e} exceeds tolerance {TOLERANCE:g}!")
)  # fmt: skip
with st.expander(tr("查看手写 BPTT 的代码", "Show the hand-written BPTT code")):
    st.code(inspect.getsource(bptt_gradients), language="python")


@st.cache_data(max_entries=128, show_spinner=False)
def _grad_norms(kind: str, T: int, gate_bias: float) -> np.ndarray:
    return hidden_gradient_norms(kind, T, gate_bias=gate_bias)


st.header(tr("梯度能传多远：RNN、LSTM、GRU", "How far the gradient reaches: RNN, LSTM, GRU"))


@st.fragment
def reach() -> None:
    c1, c2 = st.columns(2)
    T = c1.slider(tr("序列长度 T", "sequence length T"), 10, 200, 100, 10, key="bptt_len")
    bias = c2.slider(tr("LSTM 遗忘门 / GRU 更新门偏置", "LSTM forget / GRU update gate bias"),
                     0.0, 5.0, 1.0, 0.5, key="bptt_gate_bias")  # fmt: skip
    norms = {kind: _grad_norms(kind, T, bias) for kind in CELL_KINDS}
    st.plotly_chart(grad_norm_figure(norms, lang()), width="stretch", key="bptt_reach_chart")
    cols = st.columns(3)
    for col, (kind, values) in zip(cols, norms.items(), strict=True):
        col.metric(f"{kind.upper()}  ‖∂L/∂h_1‖", f"{values[0]:.2e}")
    st.caption(
        tr(
            "torch.nn 模块（默认初始化，种子 0，32 单元，float64），损失只在最后一步。门偏置加在 LSTM 的遗忘门"
            "或 GRU 的更新门上：越大，门越「敞开」，记忆与梯度沿时间传得越远。",
            "torch.nn modules (default init, seed 0, 32 units, float64), loss on the last step only. "
            "The gate bias is added to the LSTM forget gate or GRU update gate: the larger, the more "
            "the gate stays open, and memory and gradient travel further back.",
        )
    )


reach()

st.header(tr("截断 BPTT", "Truncated BPTT"))
st.markdown(
    tr(
        "把序列切成长度为 k 的窗口，梯度不跨越窗口边界（相当于每 k 步对 h 做一次 detach）。"
        "左图：损失 L_t 对每个 h_s 的梯度范数；右图：截断后被切掉的格子为空（恰好为 0）。",
        "Cut the sequence into windows of k steps and let no gradient cross a window boundary (h is "
        "detached every k steps). Left: the gradient norm of each loss L_t with respect to each h_s; "
        "right: after truncation the cut cells are blank (exactly 0).",
    )
)


@st.fragment
def truncation() -> None:
    k = st.slider(tr("窗口 k", "window k"), 1, TRUNC_T, 6, key="bptt_k")
    p = random_params(seed=1)
    xs, ys = random_sequence(TRUNC_T, seed=1)
    full, cut = hidden_contributions(p, xs, ys), hidden_contributions(p, xs, ys, truncate=k)
    st.plotly_chart(contributions_figure(full, cut, k, lang()), width="stretch", key="bptt_trunc_chart")
    g_full, g_cut = bptt_gradients(p, xs, ys), bptt_gradients(p, xs, ys, truncate=k)
    kept = int((cut > 0).sum())
    c1, c2 = st.columns(2)
    c1.metric(tr("保留的 (t, s) 项", "(t, s) terms kept"), f"{kept} / {int((full > 0).sum())}")
    c2.metric(tr("∂L/∂W 的相对变化", "relative change of ∂L/∂W"), f"{relative_change(g_full, g_cut, 'W'):.2%}")


truncation()

lesson_end(words)
