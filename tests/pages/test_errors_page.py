"""The error page under AppTest, with tiny trained models and a tiny THUCNews folder: the cells'
titles and probabilities equal an independent recount; one click opens a title on the predict
page; the run's own dev set for a session model; uploads (a checkpoint without a report, a
labelled file); and the messages for an empty cell, an empty class, titles of unknown
characters only, unusable data and no data at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from apptest_helpers import chart_specs, open_page
from helpers import FINANCE_POOL, GAME_POOL, SPORTS_POOL, one_torch_thread, pooled_dataset
from streamlit.testing.v1 import AppTest

from rnnviz import content
from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.classes import display_class
from rnnviz.core.config import TrainConfig
from rnnviz.core.data import Dataset
from rnnviz.core.models import ModelConfig
from rnnviz.core.predict import Predictor
from rnnviz.core.train import train

PAGE = "pages/errors.py"
POOLS = {"stocks": FINANCE_POOL, "sports": SPORTS_POOL, "game": GAME_POOL}
CLASSES = list(POOLS)
NAMES = [display_class(c, "zh") for c in CLASSES]  # 股票, 体育, 游戏


def zh(key: str, doc: str = "errors", **values: object) -> str:
    return content.text("zh", doc, key, **values)


def _lines(data: Dataset) -> str:
    return "".join(f"{t}\t{y}\n" for t, y in zip(data.texts, data.labels, strict=True))


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    """(data root with thucnews/{train,dev,class}.txt, models folder with a Text-RNN trained
    one epoch on it: right often enough, wrong in several cells; its stored report is of dev)."""
    root = tmp_path_factory.mktemp("data")
    folder = root / "thucnews"
    folder.mkdir()
    train_set, dev_set = pooled_dataset(150, 0, POOLS), pooled_dataset(60, 1, POOLS)
    (folder / "class.txt").write_text("\n".join(CLASSES) + "\n", encoding="utf-8")
    (folder / "train.txt").write_text(_lines(train_set), encoding="utf-8")
    (folder / "dev.txt").write_text(_lines(dev_set), encoding="utf-8")
    models = tmp_path_factory.mktemp("models")
    with one_torch_thread():
        torch.manual_seed(0)
        config = ModelConfig(model="textrnn", embed_dim=8, hidden_size=6, num_layers=1)
        tc = TrainConfig(epochs=1, batch_size=16, lr=1e-2, warmup_steps=0, patience=0,
                         device="cpu")
        result = train(config, tc, train_set, dev_set)
        Checkpoint.from_train_result(result).save(models / "textrnn.safetensors")
    return root, models


@pytest.fixture
def at(monkeypatch, folders) -> AppTest:
    monkeypatch.setenv("RNNVIZ_DATA_DIR", str(folders[0]))
    return open_page(PAGE, monkeypatch=monkeypatch, models_dir=folders[1])


def _dev(folders) -> Dataset:
    from rnnviz.core.data import load_split

    return load_split(folders[0], "dev")[0]


def _recount(predictor: Predictor, data: Dataset) -> list[tuple[str, int, int, np.ndarray]]:
    """(title, true, predicted, probabilities): each title predicted on its own."""
    out = []
    for text, y in zip(data.texts, data.labels, strict=True):
        p = predictor.predict(text, with_trace=False)
        out.append((text, y, p.label_index, np.array([p.probabilities[c] for c in CLASSES])))
    return out


def _listed(at: AppTest, part: str = "cell") -> list[str]:
    """The keys of a list's open buttons, in page order ("cell": the cell's, "hard": the
    hardest titles')."""
    keys = [b.key for b in at.button if b.key and b.key.startswith(f"errors_open_{part}_")]
    return keys


def _shown_titles(at: AppTest, titles: set[str]) -> list[str]:
    return [m.value.removesuffix(" ⚠️") for m in at.markdown
            if m.value.removesuffix(" ⚠️") in titles]


def test_each_cell_lists_the_recounted_titles_with_their_probabilities(at: AppTest,
                                                                       folders) -> None:
    assert not at.exception and not at.error
    predictor = Predictor.from_file(folders[1] / "textrnn.safetensors")
    dev = _dev(folders)
    reference = _recount(predictor, dev)
    cm = np.zeros((3, 3), dtype=int)
    for _, y, p, _ in reference:
        cm[y, p] += 1
    # The stored dev report is of the same titles: the recount agrees, cell for cell.
    assert at.success[0].value == zh("check.same", n=60)
    # The first cell shown is the most frequent confusion.
    off = cm.copy()
    np.fill_diagonal(off, -1)
    worst = divmod(int(off.argmax()), 3)
    assert (at.selectbox(key="errors_true").value, at.selectbox(key="errors_pred").value) == worst
    # The matrix: the counts, and one clickable marker per cell.
    matrix = next(c for c in chart_specs(at) if c["data"][0]["type"] == "heatmap")
    assert matrix["data"][0]["text"] == cm.tolist()
    markers = matrix["data"][1]
    assert markers["type"] == "scatter" and len(markers["x"]) == 9
    assert [c[0] for c in markers["customdata"]] == cm.ravel().tolist()
    titles = set(dev.texts)
    for t, p in [(0, 0), (0, 1), (1, 2), (2, 1), worst]:
        at.selectbox(key="errors_true").set_value(t)
        at.selectbox(key="errors_pred").set_value(p).run()
        rows = sorted([r for r in reference if (r[1], r[2]) == (t, p)],
                      key=lambda r: -r[3][p])[:10]
        if not rows:
            assert at.info[-1].value == zh("cell.empty", true=NAMES[t], pred=NAMES[p])
            continue
        kind = "cell.right" if t == p else "cell.wrong"
        n = sum(1 for r in reference if (r[1], r[2]) == (t, p))
        assert zh(kind, n=n, true=NAMES[t], pred=NAMES[p]) in [m.value for m in at.markdown]
        shown = _shown_titles(at, titles)[: len(rows)]
        assert shown == [r[0] for r in rows]
        values = [m.value for m in at.markdown]
        for r in rows:
            i = values.index(r[0])
            assert values[i + 1] == f"{r[3][t]:.1%}"
            assert values[i + 2] == zh("pred.cell", name=NAMES[p], p=r[3][p])
    # The other order: the true class's probability, lowest first.
    at.radio(key="errors_order").set_value("p_true_asc").run()
    t, p = worst
    rows = sorted([r for r in reference if (r[1], r[2]) == (t, p)], key=lambda r: r[3][t])
    assert _shown_titles(at, titles)[: len(rows[:10])] == [r[0] for r in rows[:10]]


def test_the_hardest_titles_of_each_class(at: AppTest, folders) -> None:
    predictor = Predictor.from_file(folders[1] / "textrnn.safetensors")
    reference = _recount(predictor, _dev(folders))
    at.selectbox(key="errors_hard_class").set_value(1).run()
    hardest = sorted([r for r in reference if r[1] == 1], key=lambda r: r[3][1])[:10]
    keys = _listed(at, "hard")
    assert len(keys) == len(hardest)
    shown = [m.value for m in at.markdown]
    # The hardest list comes after the cell list: its titles are the last ones shown.
    last = shown[len(shown) - 3 * len(hardest):]
    assert last[0::3] == [r[0] for r in hardest]
    assert last[1::3] == [f"{r[3][1]:.1%}" for r in hardest]


def test_one_click_opens_a_title_on_the_predict_page(at: AppTest, folders) -> None:
    predictor = Predictor.from_file(folders[1] / "textrnn.safetensors")
    [first, *_] = _listed(at, "cell")
    t, p = at.selectbox(key="errors_true").value, at.selectbox(key="errors_pred").value
    title = _shown_titles(at, set(_dev(folders).texts))[0]
    at.button(key=first).click().run()
    assert not at.exception
    assert at.title[0].value == zh("title", "predict")
    assert at.text_area(key="predict_text").value == title
    label = zh("shipped", "ui/training", model="Text-RNN")
    assert at.selectbox(key="predict_model").value == label
    want = predictor.predict(title)
    assert at.success[0].value == zh("answer", "predict", name=display_class(want.label, "zh"),
                                     label=want.label, p=want.probabilities[want.label])
    assert want.label_index == p
    assert at.info[0].value == zh("origin", "predict", true=NAMES[t], pred=NAMES[p])
    assert at.get("page_link")[0].proto.page.endswith("what-the-model-gets-wrong")


def test_an_uploaded_file_an_empty_class_and_unknown_titles(at: AppTest) -> None:
    at.radio(key="errors_data").set_value("upload").run()
    assert not at.get("plotly_chart")
    # cnews format, THUCNews's classes named in Chinese; only stocks titles, one of them
    # unknown characters only, one bad line.
    lines = "股票\t股市上涨利率\n股票\t基金银行上涨\n股票\t龘靐\n没有制表符\n"
    at.file_uploader(key="errors_data_file").set_value(
        ("mine.txt", lines.encode(), "text/plain")).run()
    assert not at.exception and not at.error
    assert "3" in at.warning[0].value  # the load report: one line skipped of four
    assert at.warning[1].value == zh("unknown.titles", n=1)
    at.selectbox(key="errors_true").set_value(1)
    at.selectbox(key="errors_pred").set_value(0).run()
    assert at.info[-1].value == zh("cell.empty", true=NAMES[1], pred=NAMES[0])
    at.selectbox(key="errors_hard_class").set_value(2).run()
    assert at.info[-1].value == zh("hard.empty", name=NAMES[2])
    at.selectbox(key="errors_hard_class").set_value(0).run()
    assert zh("unknown.mark") in [c.value for c in at.caption]
    assert any(m.value == "龘靐 ⚠️" for m in at.markdown)
    # Titles of classes the model does not know: a clear message, no traceback.
    at.file_uploader(key="errors_data_file").set_value(
        ("other.txt", "天气\t明天下雨\n".encode(), "text/plain")).run()
    assert not at.exception
    assert at.error[0].value.startswith(zh("upload.error", error="")[:8])
    assert "天气" in at.error[0].value


def test_a_checkpoint_without_a_stored_report(at: AppTest, folders) -> None:
    ckpt = Predictor.from_file(folders[1] / "textrnn.safetensors").checkpoint
    bare = Checkpoint(ckpt.model, ckpt.config, ckpt.vocab, ckpt.classes).to_bytes()
    at.selectbox(key="errors_model").set_value(zh("upload.option", "ui/models")).run()
    at.file_uploader(key="errors_upload").set_value(
        ("bare.safetensors", bare, "application/octet-stream")).run()
    assert not at.exception
    assert zh("no_report") in [i.value for i in at.info]
    assert not at.success  # nothing to check the recount against
    assert any(c.value.startswith("60 条标题") for c in at.caption)
    # The upload is offered on the predict page of this session too.
    at.switch_page("pages/predict.py").run()
    assert zh("model.uploaded", "ui/models", name="bare.safetensors") in at.selectbox(
        key="predict_model").options


def test_a_session_model_is_checked_on_its_own_run_s_dev_set(at: AppTest, folders) -> None:
    from rnnviz.jobs.training import TrainingSpec, run_training

    class Job:
        def update(self, **_: object) -> None: ...

        def should_stop(self) -> bool:
            return False

    spec = TrainingSpec(ModelConfig(embed_dim=8, hidden_size=6, num_layers=1),
                        TrainConfig(epochs=1, batch_size=16, warmup_steps=0, device="cpu"),
                        "my run", folder=folders[0] / "thucnews", dev_limit=25)
    with one_torch_thread():
        outcome = run_training(Job(), spec)
    at.session_state["train_outcome"] = outcome
    at.session_state["train_predictor"] = outcome.predictor
    at.session_state["train_spec"] = spec
    at.run()
    label = zh("model.session", "ui/models", name="my run")
    at.selectbox(key="errors_model").set_value(label).run()
    assert not at.exception and not at.error
    assert at.radio(key="errors_data").value == "run"
    assert at.radio(key="errors_data").options == [zh("data.run"), zh("data.thucnews"),
                                                   zh("data.upload")]
    assert at.success[0].value == zh("check.same", n=outcome.dev_examples)


def test_no_data_says_what_to_do(monkeypatch, folders, tmp_path: Path) -> None:
    monkeypatch.setenv("RNNVIZ_DATA_DIR", str(tmp_path))
    at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=folders[1])
    assert not at.exception
    assert at.radio(key="errors_data").options == [zh("data.upload")]
    assert at.info[0].value == zh("data.none", folder=str(tmp_path))
    assert not at.get("plotly_chart")


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == content.text("en", "errors", "title")
    assert at.success[0].value == content.text("en", "errors", "check.same", n=60)


def test_a_long_cell_is_paged(at: AppTest, folders) -> None:
    predictor = Predictor.from_file(folders[1] / "textrnn.safetensors")
    reference = _recount(predictor, _dev(folders))
    cm = np.zeros((3, 3), dtype=int)
    for _, y, p, _ in reference:
        cm[y, p] += 1
    t, p = divmod(int(cm.argmax()), 3)
    assert cm[t, p] > 10, "the tiny model must fill one cell with more than a page"
    at.selectbox(key="errors_true").set_value(t)
    at.selectbox(key="errors_pred").set_value(p).run()
    rows = sorted([r for r in reference if (r[1], r[2]) == (t, p)], key=lambda r: -r[3][p])
    at.number_input(key=f"errors_page_{t}_{p}_p_pred_desc").set_value(2).run()
    titles = set(_dev(folders).texts)
    assert _shown_titles(at, titles)[: len(rows[10:20])] == [r[0] for r in rows[10:20]]
    # Another cell, shorter: one page, no page number.
    small = min(((i, j) for i in range(3) for j in range(3) if 0 < cm[i, j] <= 10),
                key=lambda c: cm[c])
    at.selectbox(key="errors_true").set_value(small[0])
    at.selectbox(key="errors_pred").set_value(small[1]).run()
    assert not at.exception and not at.number_input


def test_a_model_of_other_classes_gets_a_clear_message(at: AppTest) -> None:
    from helpers import tiny_checkpoint

    data = tiny_checkpoint().to_bytes()  # classes finance, sports: not the dev file's
    at.selectbox(key="errors_model").set_value(zh("upload.option", "ui/models")).run()
    at.file_uploader(key="errors_upload").set_value(
        ("other.safetensors", data, "application/octet-stream")).run()
    assert not at.exception
    assert at.error[0].value.startswith(zh("data.error", error="")[:6])
    assert "stocks" in at.error[0].value and not at.get("plotly_chart")
