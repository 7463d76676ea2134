"""Lesson 2: vanishing and exploding gradients, and gradient clipping."""

import numpy as np
import streamlit as st

from rnnviz.lessons.gradients import (
    ExplodingTask,
    jacobian_norms,
    jacobian_setup,
    power,
    train_with_clipping,
)
from rnnviz.plots import gradients as plots
from ui.lang import lang, page_text, tr
from ui.lesson import lesson_end

words = page_text("gradients")

st.title(tr("梯度消失与梯度爆炸", "Vanishing and exploding gradients"))
st.markdown(
    tr(
        "反向传播经过 T 步，就要连乘 T 个雅可比矩阵 $\\partial h_k/\\partial h_{k-1} = \\operatorname{diag}(f'(a_k))\\,W$。"
        "一个数连乘 T 次，只要略小于 1 就趋于 0，略大于 1 就趋于无穷：",
        "Backprop through T steps multiplies T Jacobians $\\partial h_k/\\partial h_{k-1} = "
        "\\operatorname{diag}(f'(a_k))\\,W$. Multiply a number by itself T times: a little below 1 "
        "goes to 0, a little above 1 goes to infinity:",
    )
)
st.latex(rf"0.99^{{100}} \approx {power(0.99, 100):.3f}, \qquad 1.1^{{100}} \approx {power(1.1, 100):.1f}")


@st.fragment
def powers() -> None:
    c1, c2, c3 = st.columns(3)
    a = c1.slider(tr("因子 a", "factor a"), 0.50, 1.50, 0.99, 0.01, key="grad_factor_a")
    b = c2.slider(tr("因子 b", "factor b"), 0.50, 1.50, 1.10, 0.01, key="grad_factor_b")
    T = c3.slider("T", 1, 300, 100, key="grad_T")
    m1, m2 = st.columns(2)
    m1.metric(f"{a:g}^{T}", f"{power(a, T):.6g}")
    m2.metric(f"{b:g}^{T}", f"{power(b, T):.6g}")
    st.plotly_chart(plots.power_figure([a, b], T, lang()), width="stretch", key="grad_power_chart")


powers()

st.header(tr("真实的循环网络：雅可比矩阵连乘", "A real recurrent net: products of Jacobians"))
st.markdown(
    tr(
        "32 个隐藏单元，W 为随机矩阵并缩放到指定的谱半径 ρ（最大特征值的模），输入随机序列。"
        "对每个距离 T−t 计算 $\\|\\partial h_T/\\partial h_t\\| = \\|J_T J_{T-1}\\cdots J_{t+1}\\|$，"
        "$J_k = \\operatorname{diag}(f'(a_k))\\,W$。",
        "32 hidden units, W random and scaled to spectral radius ρ (largest |eigenvalue|), a random "
        "input sequence. For each distance T−t we compute $\\|\\partial h_T/\\partial h_t\\| = "
        "\\|J_T J_{T-1}\\cdots J_{t+1}\\|$ with $J_k = \\operatorname{diag}(f'(a_k))\\,W$.",
    )
)


@st.fragment
def jacobians() -> None:
    c1, c2, c3 = st.columns(3)
    rho = c1.slider(tr("W 的谱半径 ρ", "spectral radius ρ of W"), 0.5, 4.0, 2.0, 0.1, key="grad_rho")
    T = c2.slider(tr("序列长度 T", "sequence length T"), 10, 200, 100, 10, key="grad_jac_T")
    norm = c3.radio(
        tr("矩阵范数", "matrix norm"), ["spectral", "fro"], key="grad_norm", horizontal=True,
        format_func=lambda n: tr("谱范数（最大奇异值）", "spectral (largest singular value)") if n == "spectral"
        else "Frobenius",
    )  # fmt: skip
    setup = jacobian_setup(T=T, spectral_radius=rho)
    norms = {act: jacobian_norms(setup, act, norm) for act in ("tanh", "sigmoid", "relu")}
    left, right = st.columns([3, 2])
    left.plotly_chart(plots.jacobian_norm_figure(norms, norm, rho, lang()), width="stretch", key="grad_jac_chart")
    right.plotly_chart(plots.derivative_figure(lang()), width="stretch", key="grad_deriv_chart")
    st.markdown(
        tr("距离 T−t = {T} 时：", "At distance T−t = {T}:").format(T=T)
        + tr("，", ", ").join(f" {act} ≈ {values[-1]:.3g}" for act, values in norms.items())
    )


jacobians()
st.markdown(
    tr(
        "sigmoid 的导数最大只有 0.25，每一步都至少缩小 4 倍（除非 W 很大）；tanh 的导数最大为 1，"
        "饱和时接近 0；ReLU 的导数是 0 或 1，ρ > 1 时梯度可能爆炸。",
        "sigmoid' is at most 0.25, shrinking the gradient by 4× per step unless W is large; tanh' "
        "is at most 1 and near 0 when saturated; ReLU' is 0 or 1, so with ρ > 1 gradients can explode.",
    )
)

st.header(tr("梯度裁剪", "Gradient clipping"))
_task = ExplodingTask()
st.markdown(
    tr(
        f"一个 ReLU-RNN（W 的谱半径 {_task.spectral_radius:g}、学习率 {_task.lr:g}）读 {_task.T} 个随机数，"
        f"在最后一步输出前两个数之和；同样的初始权重和数据，训练 {_task.steps} 步 SGD，比较三种做法：",
        f"A ReLU RNN (spectral radius of W {_task.spectral_radius:g}, learning rate {_task.lr:g}) reads "
        f"{_task.T} random numbers and outputs the sum of the first two at the last step; same initial "
        f"weights and data, {_task.steps} SGD steps, three ways:",
    )
)


@st.cache_data(max_entries=64, show_spinner=False)
def _train(mode: str, threshold: float):
    return train_with_clipping(_task, mode, threshold)


@st.fragment
def clipping() -> None:
    c = st.select_slider(
        tr("裁剪阈值 c", "clipping threshold c"), [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0],
        value=1.0, key="grad_clip",
    )  # fmt: skip
    runs = [_train("none", 1.0), _train("norm", c), _train("value", c)]
    st.plotly_chart(plots.clipping_figure(runs, lang()), width="stretch", key="grad_clip_chart")
    names = (tr("不裁剪", "no clipping"), tr("按范数", "by norm"), tr("按值", "by value"))
    for col, run, name in zip(st.columns(3), runs, names, strict=True):
        if run.diverged_at is None:
            col.metric(name, tr(f"最终损失 {run.loss[-1]:.3g}", f"final loss {run.loss[-1]:.3g}"))
        else:
            col.metric(name, tr(f"第 {run.diverged_at} 步发散", f"diverged at step {run.diverged_at}"))
    text, picture = st.columns([2, 3])
    text.markdown(
        tr(
            f"**按范数裁剪**：若所有参数的梯度合起来的范数 ‖g‖ > c = {c:g}，整体乘以 c/‖g‖——"
            "方向不变，只是步子变小（torch.nn.utils.clip_grad_norm_）。\n\n"
            f"**按值裁剪**：每个分量单独截断到 [−{c:g}, {c:g}]（clip_grad_value_）——"
            "简单，但大分量被压得更多，梯度方向会改变。\n\n"
            "右图：同一个二维梯度 g 的两种裁剪结果。",
            f"**Clip by norm**: if the norm ‖g‖ of all gradients together exceeds c = {c:g}, "
            "multiply everything by c/‖g‖ — same direction, a shorter step "
            "(torch.nn.utils.clip_grad_norm_).\n\n"
            f"**Clip by value**: clamp each component to [−{c:g}, {c:g}] on its own "
            "(clip_grad_value_) — simple, but large components are cut more, so the direction "
            "changes.\n\nRight: both applied to one 2-D gradient g.",
        )
    )
    picture.plotly_chart(plots.clip_geometry_figure(np.array([3.0, 0.8]), c, lang()), width="stretch",
                         key="grad_geom_chart")  # fmt: skip


clipping()

lesson_end(words)
