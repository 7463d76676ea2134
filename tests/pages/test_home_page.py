"""The home page is the class map: a live prediction with the gates, then every stop of the
route in app.py's order with its line and minutes, links that go straight to each stop."""

from __future__ import annotations

from apptest_helpers import answer_question, chart_specs, open_page
from streamlit.testing.v1 import AppTest

from rnnviz.content import text
from rnnviz.core.classes import display_class
from rnnviz.core.predict import Predictor
from rnnviz.paths import MODELS_DIR
from ui.route import ROUTE

PAGE = "pages/home.py"


def test_the_map_lists_every_stop_in_route_order_with_links(at: AppTest) -> None:
    stops = [s for s in ROUTE if s.page != "home"]
    links = at.get("page_link")
    assert [link.proto.page for link in links] == [s.slug for s in stops]
    assert [link.proto.label for link in links] == [f"{i}. {s.title('zh')}"
                                                    for i, s in enumerate(stops, start=1)]
    shown = " ".join(m.value for m in at.markdown)
    for s in stops:
        assert s.line("zh") in shown
    total = sum(s.minutes for s in ROUTE)
    assert text("zh", "home", "map.intro", stops=len([s for s in ROUTE if s.minutes]),
                minutes=total) in shown


def test_the_hook_shows_the_shipped_models_answer_and_gates(at: AppTest) -> None:
    predictor = Predictor.from_file(MODELS_DIR / "textrnn.safetensors")
    title = "国足主帅公布亚洲杯大名单"
    at.text_input(key="home_text").set_value(title).run()
    assert not at.exception
    pred = predictor.predict(title)
    assert display_class(pred.label, "zh") in at.success[0].value
    assert f"{pred.probabilities[pred.label]:.1%}" in at.success[0].value
    gates = chart_specs(at)[0]
    assert len(gates["data"][0]["x"]) == len(pred.tokens)


def test_english_map_and_progress_after_an_answer() -> None:
    at = open_page("pages/rnn_structure.py")
    answer_question(at, "q_uses", 4)
    at.switch_page(PAGE).run()
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == text("en", "home", "title")
    assert at.caption[-1].value == text("en", "home", "progress", asked=1, right=1)
    labels = [link.proto.label for link in at.get("page_link")]
    assert labels[0] == f"1. {ROUTE[1].title('en')}"


def test_the_default_headline_is_one_the_shipped_model_gets_right() -> None:
    # The class's first sight of "the destination" should not be a miss: the old default,
    # 央行宣布下调存款准备金率 (a monetary-policy headline), came out "politics" at 42 %.
    predictor = Predictor.from_file(MODELS_DIR / "textrnn.safetensors")
    title = text("zh", "home", "hook.default")
    assert text("en", "home", "hook.default") == title  # the model reads Chinese either way
    pred = predictor.predict(title)
    assert pred.label == "sports" and pred.probabilities["sports"] > 0.5
