"""RNN Lab entry point: `streamlit run app.py`.

Sets process-wide settings once (torch threads), draws the shared sidebar and routes pages.
"""

from __future__ import annotations

import os

import streamlit as st

from ui.jobs import keep_jobs_alive
from ui.lang import language_selector, tr
from ui.runtime import configure_process_once

configure_process_once()

st.set_page_config(page_title="RNN Lab", page_icon="🔁", layout="wide")
language_selector()
# A training job stops when its session's heartbeat goes quiet; any page keeps it alive.
keep_jobs_alive()


def _page(path: str, zh: str, en: str, slug: str, icon: str, default: bool = False) -> st.Page:
    return st.Page(path, title=tr(zh, en), url_path=slug, icon=icon, default=default)


# A url_path equal to a page file's stem makes Streamlit fall back to legacy pages/ routing
# and run that file without app.py (no sidebar): every slug below differs from its file name.
_PAGES = {
    tr("开始", "Start"): [
        _page("pages/home.py", "首页", "Home", "welcome", "🏠", default=True),
    ],
}

# Pages that exist are added; the list grows as the lessons are written.
_LESSONS = [
    ("pages/rnn_structure.py", "RNN 结构", "RNN structure", "rnn-structure", "🔁"),
    ("pages/gradients.py", "梯度消失与爆炸", "Vanishing & exploding gradients", "vanishing-exploding-gradients", "📉"),
    ("pages/bptt.py", "BPTT 反向传播", "BPTT", "backprop-through-time", "🔙"),
    ("pages/long_dependency.py", "长期依赖", "Long-term dependency", "long-dependency", "⏳"),
    ("pages/lstm_gru.py", "LSTM 与 GRU", "LSTM & GRU", "lstm-gru", "🚪"),
    ("pages/bidirectional.py", "双向 RNN", "Bidirectional RNN", "bidirectional-rnn", "↔️"),
]
_CLASSIFIERS = [
    ("pages/textrnn.py", "Text-RNN 训练", "Train Text-RNN", "train-textrnn", "🧪"),
    ("pages/textrcnn.py", "RCNN 训练", "Train RCNN", "train-textrcnn", "🧱"),
    ("pages/predict.py", "预测与门控", "Predict & gates", "predict-and-gates", "🔍"),
]
_HERE = os.path.dirname(os.path.abspath(__file__))
for section, entries in ((tr("课程", "Lessons"), _LESSONS), (tr("分类器", "Classifiers"), _CLASSIFIERS)):
    found = [_page(*e) for e in entries if os.path.exists(os.path.join(_HERE, e[0]))]
    if found:
        _PAGES[section] = found

st.navigation(_PAGES).run()
