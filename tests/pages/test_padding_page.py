"""The padding page under AppTest: tiny shipped models (the course's last-step GRU and a
max-pooled BiLSTM) read the student's title three ways; the questions answer from the live
numbers, checked against torch.nn runs done here; the stored measurement (or its absence,
or a broken file) drives the cost section."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from apptest_helpers import answer_question, chart_specs, open_page, revealed
from streamlit.testing.v1 import AppTest

from rnnviz.content import text
from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.classes import THUCNEWS_CLASSES
from rnnviz.core.config import ModelConfig
from rnnviz.core.models import build_model
from rnnviz.core.text import PAD_ID, Vocab, make_tokenizer
from rnnviz.lessons import padding as pd
from rnnviz.lessons.ablation import COURSE_MODEL
from ui.route import next_stop

PAGE = "pages/padding.py"
DEFAULT = text("zh", "padding", "default_text")
TOKENS = make_tokenizer("char")(DEFAULT)
VOCAB = Vocab.build([TOKENS, list("湖人队击败火箭")])


def zh(key: str, doc: str = "padding", **values: object) -> str:
    return text("zh", doc, key, **values)


def _ship(folder: Path) -> dict[str, torch.nn.Module]:
    small = dict(embed_dim=6, hidden_size=5, vocab_size=len(VOCAB),
                 num_classes=len(THUCNEWS_CLASSES), bigram_dim=0)
    configs = {"textgru": ModelConfig(**{**COURSE_MODEL, **small, "fc_hidden": 7}),
               "textrnn": ModelConfig(**small, num_layers=1)}  # BiLSTM, max pooling
    models = {}
    for name, config in configs.items():
        torch.manual_seed(0)
        models[name] = build_model(config).eval()
        Checkpoint(model=models[name], config=config, vocab=VOCAB,
                   classes=list(THUCNEWS_CLASSES)).save(folder / f"{name}.safetensors")
    return models


@pytest.fixture
def shipped(tmp_path: Path) -> tuple[Path, dict[str, torch.nn.Module]]:
    folder = tmp_path / "models"
    folder.mkdir()
    return folder, _ship(folder)


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shipped) -> AppTest:
    monkeypatch.setattr(pd, "RESULTS_FILE", tmp_path / "absent.json")
    return open_page(PAGE, monkeypatch=monkeypatch, models_dir=shipped[0])


def _ids(tokens: list[str]) -> list[int]:
    return VOCAB.encode(tokens)


def _post_cosine(model: torch.nn.Module, tokens: list[str], L: int) -> float:
    """By hand with the torch module: out[:, -1] of the post-padded row against h_n of the
    title alone (unidirectional model)."""
    ids = _ids(tokens)
    row = torch.tensor([ids + [PAD_ID] * (L - len(ids))])
    with torch.no_grad():
        out, _ = model.rnn(model.embedding(row))
        _, h_n = model.rnn(model.embedding(torch.tensor([ids])))
    a, b = out[0, -1].numpy(), h_n[-1, 0].numpy()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def _select_model(at: AppTest, name: str) -> None:
    label = next(o for o in at.selectbox(key="padding_model").options if name in o)
    at.selectbox(key="padding_model").set_value(label).run()


def test_the_last_step_model_is_chosen_and_the_first_question_asks(at: AppTest) -> None:
    assert at.title[0].value == zh("title")
    assert "GRU" in at.selectbox(key="padding_model").value
    assert not at.get("plotly_chart")  # every figure waits for its question
    assert zh("cost.missing") in [i.value for i in at.info]
    assert [s.value for s in at.subheader][-1] == text("zh", "ui/lesson", "key_points")
    link = at.get("page_link")[-1].proto
    assert link.page == next_stop("padding").slug == "train-textrcnn"


def test_pad_count_question_and_reads_table_follow_the_title_and_length(at: AppTest) -> None:
    answer_question(at, "q_pads", 32 - len(TOKENS))
    assert revealed(at)[0].startswith(text("zh", "ui/quiz", "right", answer="")[:4])
    table = at.dataframe[0].value
    pads = table[text("zh", "lessons/padding", "col.pads")].tolist()
    assert pads == [32 - len(TOKENS), 32 - len(TOKENS), 0]  # post, pre, packed (one direction)
    at.slider(key="padding_length").set_value(40).run()  # new numbers: asked again
    answer_question(at, "q_pads", 3)
    assert any(w.value.startswith(text("zh", "ui/quiz", "wrong", answer="", yours="")[:2])
               and str(40 - len(TOKENS)) in w.value for w in at.warning)


def test_drift_question_answers_from_a_torch_run_and_reveals_the_figures(at: AppTest,
                                                                         shipped) -> None:
    cos = _post_cosine(shipped[1]["textgru"], TOKENS, 32)
    answer_question(at, "q_drift", pd.similarity_band(cos))
    assert not at.exception
    drift, norms = chart_specs(at)[:2]
    post_name = zh("scheme.post", "plots/padding")
    post = next(t for t in drift["data"] if t["name"].startswith(post_name))
    assert len(post["y"]) == 33 and post["y"][32 - len(TOKENS)] == pytest.approx(cos, abs=1e-5)
    assert norms["data"][0]["x"][-1] == "32 PAD"
    # The course's model reads its last state: each way's answer is shown.
    answers = at.dataframe[-1].value
    assert len(answers) == 3


def test_a_bidirectional_model_asks_what_the_backward_half_read(at: AppTest) -> None:
    assert not [r for r in at.radio if r.key == "quiz_q_backward_choice"]  # one direction
    _select_model(at, "Text-RNN（")
    answer_question(at, "q_backward", "none")
    assert any(s.value.startswith("答对了") for s in at.success)
    at.text_input(key="padding_text").set_value("湖人队击败火箭" * 6).run()  # 42 > 32: cut
    assert any(w.value == zh("cut", n=42, L=32) for w in at.warning)
    answer_question(at, "q_backward", "one")  # no padding: the last character only
    assert any(s.value.startswith("答对了") for s in at.success)


def test_bad_titles_get_a_message_not_an_exception(at: AppTest) -> None:
    at.text_input(key="padding_text").set_value("   ").run()
    assert not at.exception
    assert any(i.value.startswith(zh("unreadable", error="")[:6]) for i in at.info)
    at.text_input(key="padding_text").set_value("鑫鑫鑫").run()
    assert not at.exception
    assert zh("all_unknown", n=3) in [w.value for w in at.warning]


def _stored(accuracy: dict[str, float]) -> dict:
    return {"version": 1, "recipe": {"epochs": 3},
            "data": {"train": 45000, "dev": 10000, "vocab": 4000, "dev_mean_length": 19.1,
                     "dev_share_padded": 0.99},
            "runs": {s: {"dev_accuracy": a, "best_epoch": 3, "history": [a - 0.01, a]}
                     for s, a in accuracy.items()},
            "command": "python bench/padding.py --epochs 3"}


def test_the_cost_question_answers_from_the_stored_measurement(monkeypatch, tmp_path: Path,
                                                                shipped) -> None:
    path = tmp_path / "padding.json"
    path.write_text(json.dumps(_stored({"post": 0.83, "pre": 0.81, "packed": 0.86})))
    monkeypatch.setattr(pd, "RESULTS_FILE", path)
    at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=shipped[0])
    answer_question(at, "q_cost", "post")
    assert any(w.value.startswith("不对") and zh("q_cost.opt.pre") in w.value
               for w in at.warning)
    bars = chart_specs(at)[-1]["data"][0]
    assert bars["y"] == [0.83, 0.81, 0.86]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[zh("scheme.pre")] == "81.00%"
    path.write_text("{broken")
    at.run()
    assert not at.exception
    assert any("padding.json: not valid JSON" in e.value.replace("\\", "") for e in at.error)


def test_no_installed_model_still_shows_the_cost(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(pd, "RESULTS_FILE", tmp_path / "absent.json")
    at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)
    assert zh("no_model") in [i.value for i in at.info]
    assert zh("cost.missing") in [i.value for i in at.info]


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value.startswith("The padding pitfall")
    assert [s.value for s in at.subheader][-1] == "Key points"
