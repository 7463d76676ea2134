"""Classifier 3: predict a typed text and look inside — tokens, probabilities, every gate."""

import streamlit as st

from rnnviz.core.data import display_class
from rnnviz.core.predict import Prediction
from rnnviz.errors import RnnVizError
from rnnviz.plots.classifier import probability_figure, token_states_figure
from rnnviz.plots.report import as_report, importance_html, load_examples
from ui.lang import lang, tr
from ui.models import load_uploaded
from ui.training import report_view, session_models, shipped_predictors

st.title(tr("预测与门控：看看网络读到了什么", "Predict and look inside: what the network read"))

# -- the model
shipped, trained = shipped_predictors(), session_models()
UPLOAD = tr("上传 .safetensors 模型…", "Upload a .safetensors model…")
labels = [*shipped, *(tr("本次训练：", "this session: ") + name for name in trained), UPLOAD]
models = dict(zip(labels, [*shipped.values(), *trained.values()], strict=False))
if not shipped:
    st.info(tr("还没有内置模型（正在训练中）。可以先在「Text-RNN 训练」或「RCNN 训练」页训练一个，或上传模型文件。",
               "No shipped model yet (it is being trained). Train one on the Text-RNN or RCNN page, or upload a "
               "checkpoint file."))  # fmt: skip
choice = st.selectbox(tr("模型", "Model"), labels, key="predict_model")
if choice == UPLOAD:
    upload = st.file_uploader(tr("RNN Lab 保存的模型（.safetensors）", "A checkpoint saved by RNN Lab (.safetensors)"),
                              type=["safetensors"], key="predict_upload")  # fmt: skip
    if upload is None:
        st.stop()
    try:
        predictor = load_uploaded(upload.getvalue(), upload.name)
    except RnnVizError as err:
        st.error(tr(f"无法使用这个文件：{err}", f"This file cannot be used: {err}"))
        st.stop()
else:
    predictor = models[choice]
ckpt = predictor.checkpoint
st.caption(tr(f"{ckpt.config.model} · {ckpt.config.cell.upper()} · {ckpt.config.num_layers} 层 · H={ckpt.config.hidden_size} · "
              f"{'按字' if ckpt.config.tokenizer == 'char' else '按词'} · 词表 {len(ckpt.vocab)}",
              f"{ckpt.config.model} · {ckpt.config.cell.upper()} · {ckpt.config.num_layers} layer(s) · H={ckpt.config.hidden_size} · "
              f"{ckpt.config.tokenizer} tokens · vocabulary {len(ckpt.vocab)}"))  # fmt: skip

# -- the text
examples = load_examples()
if examples:
    st.session_state.setdefault("predict_text", examples[0].text)
    st.selectbox(tr("示例句子", "Example sentence"), [e.text for e in examples], key="predict_example",
                 format_func=lambda t: f"{t}（{display_class(next(e.label for e in examples if e.text == t), lang())}）",
                 on_change=lambda: st.session_state.update(predict_text=st.session_state["predict_example"]))  # fmt: skip
text = st.text_area(tr("或输入一段中文新闻标题", "Or type a Chinese news title"), key="predict_text", max_chars=2000, height=80)
if not text.strip():
    st.info(tr("请输入一句话，例如一条新闻标题。", "Type a sentence, for example a news title."))
    st.stop()
try:
    pred = predictor.predict(text)
except RnnVizError:
    st.info(tr("这段文本里没有可读的字（只有空白或控制字符），换一句试试。",
               "There is nothing readable in this text (only spaces or control characters); try another."))  # fmt: skip
    st.stop()

# -- the answer
p = pred.probabilities[pred.label]
st.success(tr(f"预测类别：**{display_class(pred.label, 'zh')}**（{pred.label}），概率 {p:.1%}",
              f"Predicted: **{display_class(pred.label, 'en')}** ({pred.label}), probability {p:.1%}"))  # fmt: skip
left, right = st.columns([3, 2])
left.markdown(tr("**模型读到的词元**（红：推向预测类别，蓝：推离；虚线框：词表外，读作 &lt;UNK&gt;）",
                 "**The tokens the model read** (red: pushed towards the prediction, blue: away; dashed: not in the "
                 "vocabulary, read as &lt;UNK&gt;)"))  # fmt: skip
left.markdown(importance_html(pred.tokens, pred.importance, pred.unknown, lang()), unsafe_allow_html=True)
n_unknown = sum(pred.unknown)
if pred.truncated:
    left.warning(tr(f"文本太长：只读了前 {len(pred.tokens)} 个词元（共 {pred.total_tokens} 个）。",
                    f"Text too long: only the first {len(pred.tokens)} of {pred.total_tokens} tokens were read."))  # fmt: skip
if n_unknown:
    left.caption(tr(f"{n_unknown} 个词元不在词表中，模型把它们当作 <UNK>。",
                    f"{n_unknown} token(s) are not in the vocabulary; the model read them as <UNK>."))  # fmt: skip
left.caption(tr("重要性 = 梯度 × 输入（对预测类别的 logit），按最大绝对值归一化。",
                "Importance = gradient × input (of the predicted class's logit), scaled by the largest magnitude."))  # fmt: skip
right.plotly_chart(probability_figure(pred.probabilities, pred.label, lang()), width="stretch", key="predict_probs")

# -- inside the network
# A fragment: choosing another layer, view or unit reruns this panel only, not the model, the
# prediction and the answer above it (tests/e2e/test_protocol_client.py checks it).
@st.fragment
def inside_the_network(pred: Prediction) -> None:
    st.header(tr("逐词元的门控与状态", "Gates and states, token by token"))
    index = st.selectbox(tr("层 / 方向", "Layer / direction"), range(len(pred.layers)), key="predict_layer",
                         format_func=lambda i: tr(f"第 {pred.layers[i].layer + 1} 层 · {'正向' if pred.layers[i].direction == 'forward' else '反向'}",
                                                  f"layer {pred.layers[i].layer + 1} · {pred.layers[i].direction}"))  # fmt: skip
    trace = pred.layers[index]
    c2, c3 = st.columns(2)
    H = next(iter(trace.states.values())).shape[1]
    view = c2.radio(tr("视图", "View"), ["mean", "unit"], horizontal=True, key="predict_view",
                    format_func=lambda v: tr("所有单元平均", "mean over units") if v == "mean" else tr("单个单元", "one unit"))  # fmt: skip
    unit = None
    if view == "unit":
        unit = c3.number_input(tr(f"单元（0–{H - 1}）", f"unit (0–{H - 1})"), 0, H - 1, 0, key="predict_unit")
    st.plotly_chart(token_states_figure(trace, pred.tokens, lang(), unit=None if unit is None else int(unit)),
                    width="stretch", key="predict_states")  # fmt: skip
    st.caption(tr("上：σ 门（0–1）；中：候选、细胞状态 c、隐藏状态 h（有正负）；下：隐藏状态的范数 ‖h_t‖。",
                  "Top: σ gates (0–1); middle: candidate, cell state c, hidden state h (signed); bottom: the norm ‖h_t‖."))  # fmt: skip


inside_the_network(pred)

# A toggle, not an expander: an expander's body (confusion figure included) is built on every
# rerun even when collapsed, about a quarter of this page's server time per keystroke.
if st.toggle(tr("显示这个模型在验证集上的表现", "Show how this model did on its dev set"), key="predict_show_report"):
    report_view(as_report(ckpt.metrics), "predict_report", seconds=ckpt.info.get("seconds"), device=ckpt.info.get("device"))
