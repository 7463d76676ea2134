"""The class route (ui/route.py) is app.py's navigation, and every lesson ends the same way
(ui/lesson.py): its key points, then a link to the next stop, in the chosen language."""

from __future__ import annotations

import pytest
from apptest_helpers import answer_question, open_page
from streamlit.testing.v1 import AppTest

from rnnviz.content import text
from ui.route import ROUTE, next_stop

LESSONS = [s for s in ROUTE if s.section == "lessons"]


def test_bptt_comes_before_the_gradient_lesson_that_uses_its_jacobians() -> None:
    pages = [s.page for s in ROUTE]
    assert pages.index("rnn_structure") < pages.index("bptt") < pages.index("gradients")


def test_the_navigation_follows_the_route() -> None:
    at = open_page("pages/home.py")
    # AppTest has no navigation element; the route's own order is what app.py hands it.
    assert [s.page for s in ROUTE][0] == "home"
    assert len({s.slug for s in ROUTE}) == len(ROUTE)
    assert all(s.slug != s.page for s in ROUTE)  # see app.py: a slug equal to the stem
    assert not at.exception


def questions_asked(at: AppTest) -> list[str]:
    """Every question the page asks before training anything: answer each one as it appears
    (a later one may wait for an earlier answer) until no new one comes."""
    asked: list[str] = []
    for _ in range(10):
        waiting = [w for w in [*at.radio, *at.number_input]
                   if w.key.startswith("quiz_") and w.key not in asked]
        if not waiting:
            return asked
        w = waiting[0]
        asked.append(w.key)
        key = w.key.removeprefix("quiz_").rsplit("_", 1)[0]
        answer_question(at, key, w.options[0] if hasattr(w, "options") else 0)
        assert not at.exception
    raise AssertionError(f"questions keep coming: {asked}")


@pytest.mark.parametrize("stop", LESSONS, ids=lambda s: s.page)
def test_lesson_ends_with_key_points_and_the_next_stop(stop) -> None:
    at = open_page(stop.path)
    assert len(questions_asked(at)) >= 2, f"{stop.page} asks fewer than two questions"
    after = next_stop(stop.page)
    assert after is not None
    assert [h.value for h in at.subheader][-1] == text("zh", "ui/lesson", "key_points")
    links = at.get("page_link")
    assert links[-1].proto.page == after.slug
    assert links[-1].proto.label == text("zh", "ui/lesson", "next", title=after.title("zh"))
    at.sidebar.radio(key="lang").set_value("en").run()
    assert [h.value for h in at.subheader][-1] == "Key points"
    assert at.get("page_link")[-1].proto.label == f"Next stop: {after.title('en')} →"
