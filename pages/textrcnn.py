"""Classifier 2: RCNN (Lai et al., 2015) — drawn, trained live, compared with every other model."""

import streamlit as st

from rnnviz.plots.classifier import architecture_figure
from ui.lang import lang, tr
from ui.training import model_comparison, model_widgets, shipped_predictors, training_section

st.title(tr("RCNN：循环 + 卷积式池化", "RCNN: recurrence plus convolution-style pooling"))
st.markdown(tr(
    "**原理**（Lai 等, AAAI 2015）：一个双向 RNN 为每个词给出**左侧上下文** $c_l(t)$（从左读到 t）和"
    "**右侧上下文** $c_r(t)$（从右读到 t）；把它们与词向量本身拼接，经线性层和 tanh 得到每个位置的特征 $y_t$，"
    "再像 CNN 一样在时间上做**最大池化**，取每一维最强的信号，最后全连接 + softmax。"
    "与 Text-RNN 只看最后状态不同，RCNN 让每个位置都有机会决定类别。",
    "**The idea** (Lai et al., AAAI 2015): a bidirectional RNN gives each word its **left context** $c_l(t)$ "
    "(read from the left up to t) and **right context** $c_r(t)$ (read from the right); these are concatenated "
    "with the word's own embedding, passed through a linear layer and tanh to give a feature $y_t$ per position, "
    "then **max-pooled over time** as in a CNN, keeping each dimension's strongest signal, then fully connected + "
    "softmax. Unlike a Text-RNN that reads only the last state, every position can decide the class.",
))  # fmt: skip
st.latex(r"y_t=\tanh\!\big(W^{(2)}[c_l(t);\,e_t;\,c_r(t)]+b^{(2)}\big),\qquad "
         r"v=\max_{t}\,y_t,\qquad p(y\mid x)=\operatorname{softmax}(W^{(4)}v+b^{(4)})")  # fmt: skip

st.header(tr("选择结构", "Choose the architecture"))
config = model_widgets("rcnn", "textrcnn")
st.plotly_chart(architecture_figure(config, lang()), width="stretch", key="rcnn_architecture")
st.caption(tr("图随上面的设置变化；虚线：词向量 e_t 绕过 RNN 直接参与拼接，以及最大池化读所有位置。",
              "The drawing follows the settings above; dashed: the embedding e_t skips the RNN into the "
              "concatenation, and the max-pool reads every position."))  # fmt: skip

training_section("rcnn", config)

st.header(tr("模型对比", "Model comparison"))
st.caption(tr("本次会话训练的每个模型和内置模型，在各自验证集上的成绩。",
              "Every model trained in this session and the shipped ones, on their own dev sets."))  # fmt: skip
model_comparison(shipped_predictors(), key="rcnn_comparison")
