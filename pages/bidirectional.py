"""Lesson 6: bidirectional RNN — one pass each way, concatenated at every position."""

import streamlit as st

from rnnviz.errors import RnnVizError
from rnnviz.lessons import gating as gt
from rnnviz.plots import bidirectional as plots
from ui.lang import lang, page_text, tr
from ui.lesson import lesson_end

words = page_text("bidirectional")

st.title(tr("双向 RNN", "Bidirectional RNN"))
st.markdown(tr(
    "普通 RNN 在位置 t 只读过 $x_0..x_t$。很多任务（分词、命名实体识别、完形填空、文本分类）在判断位置 t 时"
    "也需要**右边**的上下文。双向 RNN（Schuster & Paliwal, 1997）用两个独立的 RNN：一个从左往右，一个从右往左，"
    "在每个位置把两者的隐藏状态拼接起来：",
    "A plain RNN at position t has read only $x_0..x_t$. Many tasks (segmentation, named entities, "
    "fill-in-the-blank, text classification) also need the context to the **right** of t. A bidirectional RNN "
    "(Schuster & Paliwal, 1997) runs two independent RNNs, one left to right and one right to left, and "
    "concatenates their hidden states at every position:",
))  # fmt: skip
st.latex(r"\overrightarrow{h}_t=f(\overrightarrow{W}x_t+\overrightarrow{U}\,\overrightarrow{h}_{t-1}),\quad"
         r"\overleftarrow{h}_t=f(\overleftarrow{W}x_t+\overleftarrow{U}\,\overleftarrow{h}_{t+1}),\quad "
         r"y_t=[\overrightarrow{h}_t;\overleftarrow{h}_t]")  # fmt: skip

st.header(tr("为什么需要右边的上下文：完形填空", "Why the right context matters: fill in the blank"))
pick = st.selectbox(tr("例句", "Example"), range(len(gt.FILL_BLANK_EXAMPLES)), key="bidir_example",
                    format_func=lambda i: gt.FILL_BLANK_EXAMPLES[i][0])  # fmt: skip
sentence, answer = gt.FILL_BLANK_EXAMPLES[pick]
tokens = gt.sentence_tokens(sentence)
blank = gt.blank_index(tokens)
left, right = gt.context_split(tokens, blank)
c1, c2 = st.columns(2)
c1.markdown(tr(f"**前向 RNN 在空格处读过的**：{left}", f"**What the forward RNN has read at the blank**: {left}"))
c2.markdown(tr(f"**后向 RNN 在空格处读过的**：{right}", f"**What the backward RNN has read at the blank**: {right}"))
st.markdown(tr(
    f"只看左边几乎猜不出答案；右边的线索（如「看病」「汽油」）才让「{answer}」呼之欲出。双向 RNN 在空格处同时拥有两边。",
    f"The left side alone barely narrows it down; the clue on the right is what points to “{answer}”. At the "
    "blank, a bidirectional RNN has both sides.",
))  # fmt: skip
st.plotly_chart(plots.bidirectional_diagram(tokens, lang(), highlight=blank), width="stretch", key="bidir_diagram")

st.header(tr("两个方向的隐藏状态", "The two directions' hidden states"))
text = st.text_input(tr("输入一句话", "Type a sentence"), gt.EXAMPLE_TEXTS[0], key="bidir_text", max_chars=200)


@st.cache_resource(show_spinner=False)
def _demo():
    return gt.demo_network("lstm", bidirectional=True)


def _shipped(text: str):
    """(views, rnn module or None) from the shipped BiLSTM classifier, None if not there yet."""
    try:
        from ui.models import load_shipped
    except ImportError:
        return None
    predictor = load_shipped("textrnn")
    if predictor is None:
        return None
    views = gt.views_from_prediction(predictor.predict(text))
    if not any(v.direction == "backward" for v in views):
        return None
    return views, getattr(getattr(predictor, "model", None), "rnn", None)


try:
    shipped = _shipped(text)
    if shipped is not None:
        views, rnn = shipped
        st.success(tr("显示的是已训练的 Text-RNN 分类器中的双向网络（第 0 层）。",
                      "Showing the trained Text-RNN classifier's bidirectional network (layer 0)."))  # fmt: skip
    else:
        tokens_t, trace = gt.trace_text(_demo(), text)
        views, rnn = gt.views_from_trace(trace, tokens_t), _demo().rnn
        st.info(tr("显示的是一个**未训练**的演示双向 LSTM（字符嵌入 16 维、每个方向 24 个单元、种子 0）。",
                   "Showing an **untrained** demo bidirectional LSTM (16-dim character embedding, 24 units per "
                   "direction, seed 0)."))  # fmt: skip
except RnnVizError as err:
    st.error(str(err))
    st.stop()
fwd, bwd = gt.forward_backward(views)
toks = gt.pick_view(views).tokens
st.plotly_chart(plots.concat_states_figure(toks, fwd, bwd, lang()), width="stretch", key="bidir_concat")
st.plotly_chart(plots.direction_norms_figure(toks, gt.state_norms(fwd), gt.state_norms(bwd), lang()),
                width="stretch", key="bidir_norms")  # fmt: skip
st.caption(tr(
    "前向状态越往右读得越多，后向状态越往左读得越多：在句首，后向状态已经看完了整句，前向状态只看了一个字。",
    "The forward state knows more the further right it is, the backward one the further left: at the first "
    "token the backward state has read the whole sentence, the forward one a single token.",
))  # fmt: skip
if shipped is None:
    diff = gt.concat_matches_module(_demo(), text)
    st.metric(tr("逐步拼接 [h→; h←] 与 nn.LSTM(bidirectional=True) 输出的最大差", "max |[h→; h←] stepwise − nn.LSTM(bidirectional=True) output|"),
              f"{diff:.1e}")  # fmt: skip

st.header(tr("两个方向不共享权重", "The two directions do not share weights"))
if rnn is None:
    rnn = _demo().rnn
    st.caption(tr("（分类器未提供模块，下面用演示网络。）", "(The classifier exposes no module; the demo network is used below.)"))
st.dataframe(gt.direction_weight_difference(rnn, lang=lang()), hide_index=True)
counts = gt.direction_param_counts(rnn, lang())
for col, (name, value) in zip(st.columns(len(counts)), counts.items(), strict=True):
    col.metric(name, f"{value:,}")
st.markdown(tr(
    "weight_hh_l0 与 weight_hh_l0_reverse 是两套独立学习的参数（差的 Frobenius 范数不为 0）：双向 RNN 的参数量与计算量都是单向的两倍。",
    "weight_hh_l0 and weight_hh_l0_reverse are two separately learned parameter sets (the Frobenius norm of their "
    "difference is not 0): a bidirectional RNN has twice the parameters and compute of a one-way one.",
))  # fmt: skip

st.subheader(tr("优点与局限", "Strengths and limits"))
st.markdown(tr(
    "- 优点：每个位置都有完整的上下文，序列标注和分类通常更准；与 LSTM/GRU 自由组合（BiLSTM、BiGRU）。\n"
    "- 局限：必须先拿到整条序列，不能用于逐字实时输出或语言模型的生成；参数与计算翻倍。",
    "- Strengths: every position sees its full context, which usually helps tagging and classification; combines "
    "freely with LSTM/GRU (BiLSTM, BiGRU).\n- Limits: needs the whole sequence first, so it cannot stream output "
    "token by token or generate text as a language model; twice the parameters and compute.",
))  # fmt: skip
lesson_end(words)
