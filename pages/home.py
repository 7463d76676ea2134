"""Home: what RNN Lab is and where to start."""

import streamlit as st

from ui.lang import tr

st.title(tr("RNN Lab · 循环神经网络实验室", "RNN Lab · Recurrent neural networks, hands on"))
st.markdown(
    tr(
        "在这里学习循环神经网络（RNN）：从展开的 RNN 与共享权重 U、W、V，到梯度消失与爆炸、"
        "BPTT、长期依赖、LSTM/GRU 门控和双向 RNN；然后现场训练 Text-RNN 与 RCNN 新闻分类器，"
        "输入中文句子，观察预测类别和逐字的门控激活。",
        "Learn recurrent neural networks here: from the unrolled RNN and its shared weights "
        "U, W, V to vanishing and exploding gradients, BPTT, long-term dependency, LSTM/GRU "
        "gating and bidirectional RNNs; then train Text-RNN and RCNN news classifiers live, "
        "type Chinese sentences and watch the predicted category and the gates token by token.",
    )
)
st.info(tr("从左侧导航选择一页开始。", "Pick a page in the sidebar to begin."))
