"""Lesson 5: LSTM and GRU — the gates one by one, over a text you type."""

import inspect

import streamlit as st

from rnnviz.core import cells
from rnnviz.core.cells import GATES, gate_label
from rnnviz.errors import RnnVizError
from rnnviz.lessons import gating as gt
from rnnviz.plots import gates as plots
from ui.lang import lang, page_text, tr
from ui.lesson import lesson_end

words = page_text("lstm_gru")

st.title(tr("LSTM 与 GRU：用门控制记忆", "LSTM and GRU: gates that control memory"))
st.markdown(tr(
    "**背景**：LSTM（Hochreiter & Schmidhuber, 1997）为解决普通 RNN 的梯度消失而设计：另开一条细胞状态 $c_t$，"
    "用三个取值在 0–1 之间的门决定忘掉什么、写入什么、输出什么。GRU（Cho 等, 2014）把它简化成两个门、没有单独的细胞状态。",
    "**Background**: the LSTM (Hochreiter & Schmidhuber, 1997) was designed against the plain RNN's vanishing "
    "gradient: a separate cell state $c_t$, and three gates with values in 0–1 that decide what to forget, what to "
    "write and what to output. The GRU (Cho et al., 2014) simplifies it to two gates and no separate cell state.",
))  # fmt: skip
kind = st.radio(tr("单元", "Cell"), ["lstm", "gru"], format_func=str.upper, key="gates_kind", horizontal=True)
left, right = st.columns([3, 2])
left.plotly_chart(plots.lstm_cell_figure(lang()) if kind == "lstm" else plots.gru_cell_figure(lang()), width="stretch")
for tex in gt.CELL_EQUATIONS[kind]:
    right.latex(tex)
st.markdown(tr(
    "- **遗忘门 f**：$c_{t-1}$ 的每一维保留多少；**输入门 i**：候选 $g_t$ 写入多少；**输出门 o**：$\\tanh(c_t)$ 露出多少。\n"
    "- **GRU**：更新门 z 在「保留旧的 $h_{t-1}$」与「换成候选 $n_t$」之间插值；重置门 r 决定算候选时看多少旧状态。",
    "- **forget gate f**: how much of each unit of $c_{t-1}$ stays; **input gate i**: how much of the candidate "
    "$g_t$ is written; **output gate o**: how much of $\\tanh(c_t)$ shows.\n"
    "- **GRU**: the update gate z interpolates between keeping the old $h_{t-1}$ and the candidate $n_t$; the "
    "reset gate r decides how much of the old state the candidate looks at.",
))  # fmt: skip

st.header(tr("门随时间的变化", "The gates over time"))
c1, c2 = st.columns([2, 1])
st.session_state.setdefault("gates_text", gt.EXAMPLE_TEXTS[0])
c1.selectbox(tr("示例标题", "Example title"), gt.EXAMPLE_TEXTS, key="gates_example",
             on_change=lambda: st.session_state.update(gates_text=st.session_state["gates_example"]))
text = c1.text_input(tr("或输入文本", "Or type a text"), key="gates_text", max_chars=200)
bias = c2.slider(tr("演示网络：记忆门偏置", "demo net: memory-gate bias"), 0.0, 4.0, 0.0, 0.5, key="gates_bias",
                 help=tr("加到 LSTM 遗忘门 / GRU 更新门的偏置上", "added to the LSTM forget / GRU update gate bias"))


@st.cache_resource(max_entries=16, show_spinner=False)
def _demo(kind: str, bias: float):
    return gt.demo_network(kind, gate_bias=bias)


def _shipped_views(text: str, kind: str):
    try:
        from ui.models import load_shipped
    except ImportError:
        return None
    predictor = load_shipped("textrnn")
    views = gt.views_from_prediction(predictor.predict(text)) if predictor is not None else []
    return views if any(v.kind == kind for v in views) else None


try:
    views = _shipped_views(text, kind)
    if views is not None:
        st.success(tr("显示的是已训练的 Text-RNN 分类器中的网络。", "Showing the trained Text-RNN classifier's network."))
    else:
        tokens, trace = gt.trace_text(_demo(kind, bias), text)
        views = gt.views_from_trace(trace, tokens)
        st.info(tr(f"显示的是一个**未训练**的演示 {kind.upper()}（字符嵌入 16 维、24 个隐藏单元、种子 0）；"
                   "已训练的分类器上线后这里会换成它。",
                   f"Showing an **untrained** demo {kind.upper()} (16-dim character embedding, 24 hidden units, "
                   "seed 0); once the trained classifier is shipped it is shown here instead."))  # fmt: skip
except RnnVizError as err:
    st.error(str(err))
    st.stop()
choices = [(v.layer, v.direction) for v in views if v.kind == kind]
layer, direction = st.selectbox(tr("层 / 方向", "layer / direction"), choices, key="gates_layer",
                                format_func=lambda c: f"layer {c[0]} · {c[1]}") if len(choices) > 1 else choices[0]
view = gt.pick_view([v for v in views if v.kind == kind], layer, direction)
mode = st.radio(tr("视图", "View"), ["mean", "units"], horizontal=True, key="gates_mode",
                format_func=lambda m: tr("所有门（单元平均）", "all gates (unit mean)") if m == "mean"
                else tr("单个门的每个单元", "one gate, every unit"))  # fmt: skip
fig_col, code_col = st.columns([3, 2])
if mode == "mean":
    fig = plots.gate_means_figure(view, lang())
else:
    gate = fig_col.selectbox(tr("门", "gate"), GATES[kind], key="gates_gate",
                             format_func=lambda g: gate_label(kind, g, lang()))
    fig = plots.gate_units_figure(view, gate, lang())
fig_col.plotly_chart(fig, width="stretch", key="gates_heatmap")
code_col.caption(tr("画出这些数字的正是这个函数（rnnviz/core/cells.py）：", "The function that computed these numbers (rnnviz/core/cells.py):"))
code_col.code(inspect.getsource(cells.lstm_step if kind == "lstm" else cells.gru_step), language="python")
st.dataframe(gt.gate_summary(view, lang()), hide_index=True)

st.header(tr("为什么门控缓解了梯度消失", "Why gating eases vanishing gradients"))
st.latex(r"\frac{\partial c_t}{\partial c_{t-1}}\Big|_{\text{cell path}}=\operatorname{diag}(f_t)"
         r"\quad\Rightarrow\quad\frac{\partial c_T}{\partial c_t}=\prod_{s=t+1}^{T}\operatorname{diag}(f_s)")
st.markdown(tr(
    "细胞状态是**相加**更新的：沿传送带回传的梯度只乘遗忘门 $f_s$，没有 $W_{hh}$，也没有 $\\tanh'$。"
    "只要网络学会让 $f_s\\approx 1$，梯度就能传很远（GRU 中 $z_s$ 起同样作用）。下图是上面文本的 $\\prod f_s$；"
    "未训练的网络 f≈0.5，拖动上方的偏置滑块看门“敞开”后的变化。",
    "The cell is updated by **addition**: the gradient along the belt is multiplied only by the forget gates "
    "$f_s$ — no $W_{hh}$, no $\\tanh'$. Once the network learns $f_s\\approx 1$ the gradient travels far "
    "($z_s$ plays this part in a GRU). Below, $\\prod f_s$ for the text above; an untrained net has f≈0.5 — move "
    "the bias slider above to open the gates.",
))  # fmt: skip
st.plotly_chart(plots.cell_path_figure(view.tokens, gt.cell_path_gain(view.states["f" if kind == "lstm" else "z"]), lang()),
                width="stretch", key="gates_path")  # fmt: skip
st.markdown(tr(
    "**它没有解决的**：① 梯度**爆炸**仍可能发生（其他路径经过 $W_{hh}$），仍需梯度裁剪；② 门不可能恒为 1，"
    "几百上千步的依赖仍然困难；③ 计算必须按时间顺序一步步来，无法并行，长序列很慢（这是 Transformer 的动机）。",
    "**What it does not fix**: ① gradients can still **explode** (other paths go through $W_{hh}$), so clipping "
    "is still needed; ② gates are never exactly 1, so dependencies of hundreds or thousands of steps stay hard; "
    "③ computation is sequential in time — no parallelism, slow on long sequences (the Transformer's motivation).",
))  # fmt: skip

st.header(tr("参数量", "Parameter count"))
p1, p2 = st.columns(2)
I = p1.number_input(tr("输入维度 I", "input size I"), 1, 4096, 128, key="gates_input")  # noqa: E741
H = p2.number_input(tr("隐藏维度 H", "hidden size H"), 1, 4096, 128, key="gates_hidden")
st.dataframe(gt.param_table(int(I), int(H), lang()), hide_index=True)
st.caption(tr("每个门一套 W_ih、W_hh、b_ih、b_hh：GRU 3 套，LSTM 4 套；最后一列由 torch 模块实际计数核对。",
              "One W_ih, W_hh, b_ih, b_hh per gate: 3 sets for a GRU, 4 for an LSTM; the last column counts a real torch module."))  # fmt: skip

st.subheader(tr("优点与缺点", "Strengths and weaknesses"))
st.markdown(tr(
    "- 优点：能学到几十到上百步的依赖；训练稳定；GRU 参数更少、更快，效果常与 LSTM 相当。\n"
    "- 缺点：参数与计算是普通 RNN 的 3–4 倍；按时间串行；超长依赖仍吃力。",
    "- Strengths: learn dependencies of tens to hundreds of steps; train stably; the GRU is smaller and faster and "
    "often as good as the LSTM.\n- Weaknesses: 3–4× the parameters and compute of a plain RNN; sequential in time; "
    "very long dependencies remain hard.",
))  # fmt: skip
lesson_end(words)
