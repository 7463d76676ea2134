"""Classifier 1: Text-RNN — the principle drawn from the chosen configuration, trained live."""

import streamlit as st

from rnnviz.plots.classifier import architecture_figure
from ui.lang import lang, tr
from ui.training import model_widgets, training_section

st.title(tr("Text-RNN：用循环网络给新闻标题分类", "Text-RNN: classifying news titles with a recurrent network"))
st.markdown(tr(
    "**原理**：标题切成字（或词）$x_1..x_T$，每个查表得到词向量 $e_t$；RNN 沿时间读下去，"
    "**每一步用同一组权重** $U$（输入→隐藏）与 $W$（隐藏→隐藏）；读完后取最后的隐藏状态 $h_T$"
    "（或对所有 $h_t$ 做平均/最大池化）得到整句的表示，经全连接层 $V$ 和 softmax 得到 10 个类别的概率，"
    "用交叉熵训练。",
    "**The idea**: the title is cut into characters (or words) $x_1..x_T$, each looked up as a vector $e_t$; the "
    "RNN reads them in order, **using the same weights at every step**, $U$ (input→hidden) and $W$ "
    "(hidden→hidden); the last hidden state $h_T$ (or a mean/max pool over all $h_t$) represents the title, and a "
    "fully connected layer $V$ with softmax gives the probabilities of the 10 classes, trained with cross-entropy.",
))  # fmt: skip
st.latex(r"h_t=f(U e_t+W h_{t-1}+b),\qquad p(y\mid x)=\operatorname{softmax}(V\,\mathrm{pool}(h_1..h_T)+c)")
st.markdown(tr(
    "**双向**变体再用一个从右往左读的 RNN（它有**自己的** $\\overleftarrow{U},\\overleftarrow{W}$，与正向不共享），"
    "把两个方向的状态拼接：$[\\overrightarrow{h}_T;\\overleftarrow{h}_1]$。LSTM/GRU 只是把 $f$ 换成带门的单元。",
    "The **bidirectional** variant adds an RNN reading right to left (with **its own** "
    "$\\overleftarrow{U},\\overleftarrow{W}$, not shared with the forward one) and concatenates both directions: "
    "$[\\overrightarrow{h}_T;\\overleftarrow{h}_1]$. LSTM/GRU only replace $f$ with a gated cell.",
))  # fmt: skip

st.header(tr("选择结构", "Choose the architecture"))
config = model_widgets("train", "textrnn")
st.plotly_chart(architecture_figure(config, lang()), width="stretch", key="train_architecture")
st.caption(tr("图随上面的设置变化；悬停节点可看公式与维度。", "The drawing follows the settings above; hover a node for its equation and sizes."))

training_section("train", config)
