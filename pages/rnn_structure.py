"""Lesson 1: the RNN structure — why RNNs, the folded and unrolled network, a small RNN stepped live."""

import streamlit as st

from rnnviz.errors import RnnVizError
from rnnviz.lessons.unrolled import (
    ACTIVATIONS,
    demo_rnn,
    embed_text,
    run_rnn,
    step_latex,
    step_terms,
)
from rnnviz.plots.structure import MAX_UNROLL, WEIGHTS, hidden_heatmap, rnn_diagram
from ui.lang import lang, tr
from ui.lesson import lesson_end

st.title(tr("RNN 结构：一个循环，按时间展开", "RNN structure: one loop, unrolled in time"))

st.header(tr("为什么提出 RNN", "Why RNNs were proposed"))
st.markdown(
    tr(
        "- **变长序列**：句子、语音、股价的长度各不相同；前馈网络要求固定大小的输入，RNN 一次读一个元素，"
        "读多少步都行。\n"
        "- **顺序有意义**：「我爱你」和「你爱我」字相同、意思不同。RNN 用隐藏状态 $h_t$ 记住到目前为止读过的内容，"
        "每一步的输出依赖整个前缀。\n"
        "- **参数共享**：每一步都用同一组权重 $U, W, V$，参数量与序列长度无关；在第 3 个位置学到的规律，"
        "在第 30 个位置同样适用。",
        "- **Variable length**: sentences, speech and prices come in every length; a feed-forward "
        "net needs a fixed-size input, an RNN reads one element at a time for as many steps as there are.\n"
        "- **Order matters**: 'dog bites man' and 'man bites dog' have the same words and different "
        "meanings. The hidden state $h_t$ remembers what has been read so far, so each output "
        "depends on the whole prefix.\n"
        "- **Parameter sharing**: every step uses the same weights $U, W, V$, so the parameter count "
        "does not grow with length, and what is learnt at position 3 applies at position 30.",
    )
)

st.header(tr("折叠与展开", "Folded and unrolled"))
st.latex(r"h_t = f(U x_t + W h_{t-1} + b), \qquad o_t = V h_t + c")
_WEIGHT_TEXT = {
    "U": tr("U：输入 → 隐藏，把当前输入 x_t 写入记忆。", "U: input → hidden, writes the input x_t into memory."),
    "W": tr("W：隐藏 → 隐藏，把上一步的记忆 h_{t-1} 传给下一步——「循环」就在这里。",
            "W: hidden → hidden, carries the memory h_{t-1} to the next step — this is the loop."),
    "V": tr("V：隐藏 → 输出，从记忆中读出本步的输出 o_t。", "V: hidden → output, reads this step's output o_t."),
}  # fmt: skip


@st.fragment
def diagram() -> None:
    left, right = st.columns([1, 1])
    T = left.slider(tr("展开步数 T", "Unrolled steps T"), 1, MAX_UNROLL, 4, key="structure_T")
    weight = right.radio(
        tr("高亮权重", "Highlight weight"), WEIGHTS, key="structure_weight", horizontal=True, index=1
    )
    st.plotly_chart(rnn_diagram(T, weight, lang()), width="stretch", key="structure_diagram")
    st.info(
        _WEIGHT_TEXT[weight]
        + tr(f" 展开 {T} 步后它被用了 {T} 次，但只是一份参数。",
             f" Unrolled for {T} steps it is used {T} times, yet it is one set of parameters.")
    )  # fmt: skip


diagram()

st.header(tr("动手：让一个小 RNN 读一句话", "Hands on: a small RNN reads a sentence"))
st.markdown(
    tr(
        "每个字被映射成一个固定的 4 维随机向量 $x_t$（同一个字总是同一个向量），隐藏层 6 个单元，"
        "权重随机但固定（种子 0）。热图的每一列是一步的 $h_t$。",
        "Each character maps to a fixed random 4-d vector $x_t$ (the same character, the same "
        "vector); 6 hidden units; random but fixed weights (seed 0). Each heatmap column is one step's $h_t$.",
    )
)


@st.fragment
def demo() -> None:
    left, right = st.columns([2, 1])
    text = left.text_input(tr("输入文字", "Input text"), "我爱自然语言处理", key="structure_text")
    act = right.radio(tr("激活函数 f", "Activation f"), ACTIVATIONS, key="structure_act", horizontal=True)
    try:
        chars, x = embed_text(text)
    except RnnVizError as exc:
        st.error(str(exc))
        return
    model = demo_rnn(input_size=x.shape[1], activation=act)
    run = run_rnn(model, x)
    T = len(chars)
    # Keep the chosen step inside the (possibly shorter) new text.
    st.session_state["structure_step"] = min(st.session_state.get("structure_step", 3), T)
    t = st.slider(tr("查看第 t 步", "Show step t"), 1, max(T, 2), key="structure_step", disabled=T == 1)
    st.plotly_chart(hidden_heatmap(run.h, chars, t, lang()), width="stretch", key="structure_heatmap")
    st.markdown(tr(f"第 {t} 步读入「{chars[t - 1]}」，代入真实数字：",
                   f"Step {t} reads '{chars[t - 1]}'; with the actual numbers:"))  # fmt: skip
    st.latex(step_latex(model, step_terms(model, run, t)))
    if act == "relu":
        st.caption(tr("ReLU 把负的预激活截成 0：部分单元「熄灭」，且 h_t 没有上界。",
                      "ReLU cuts negative pre-activations to 0: some units go dark, and h_t is unbounded."))  # fmt: skip
    elif act == "sigmoid":
        st.caption(tr("sigmoid 的输出在 (0, 1) 之间，永不为负。", "sigmoid outputs lie in (0, 1), never negative."))


demo()

st.header(tr("优点与缺点", "Strengths and weaknesses"))
good, bad = st.columns(2)
good.success(
    tr(
        "**优点**\n\n- 处理任意长度的序列\n- 参数共享，参数量小\n- 天然利用顺序与上下文",
        "**Strengths**\n\n- Any sequence length\n- Shared parameters, few of them\n- Uses order and context by design",
    )
)
bad.warning(
    tr(
        "**缺点**\n\n- 只能一步一步算，难以并行\n- 梯度连乘 W 与 f'：远处的梯度消失或爆炸（下一页）\n"
        "- 实际上难以记住很久以前的信息",
        "**Weaknesses**\n\n- Step by step: hard to parallelise\n- Gradients multiply W and f' "
        "again and again: they vanish or explode (next page)\n- Hard to remember things from long ago in practice",
    )
)

lesson_end(
    (
        "1. RNN 用隐藏状态 $h_t = f(U x_t + W h_{t-1} + b)$ 把过去压缩进一个向量。\n"
        "2. 展开后是一个很深的前馈网络，但每一层共享同一组 $U, W, V$。\n"
        "3. 同一个字在不同位置得到不同的 $h_t$：因为 $h_{t-1}$ 不同——这就是「记忆」。",
        "1. An RNN squeezes the past into one vector, $h_t = f(U x_t + W h_{t-1} + b)$.\n"
        "2. Unrolled, it is a deep feed-forward net whose layers all share $U, W, V$.\n"
        "3. The same character at different positions gets a different $h_t$ because $h_{t-1}$ "
        "differs — that is the memory.",
    ),
    "pages/gradients.py",
    ("梯度消失与爆炸", "vanishing & exploding gradients"),
    "📉",
)
