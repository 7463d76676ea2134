"""Every lesson ends the same way (ui/lesson.py): its key points, then a link to the next page
in the order app.py lists them, in the chosen language."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from apptest_helpers import open_page

# Each lesson links the one after it; the last lesson leads to training.
ORDER = ["pages/rnn_structure.py", "pages/gradients.py", "pages/bptt.py", "pages/long_dependency.py",
         "pages/lstm_gru.py", "pages/bidirectional.py", "pages/textrnn.py"]  # fmt: skip


def app_routes() -> dict[str, str]:
    """app.py's (file -> url path) entries, in source order: ("pages/x.py", zh, en, slug, icon)."""
    tree = ast.parse((Path(__file__).resolve().parents[2] / "app.py").read_text(encoding="utf-8"))
    entries = [node for node in ast.walk(tree) if isinstance(node, ast.Tuple) and len(node.elts) == 5
               and isinstance(node.elts[0], ast.Constant) and str(node.elts[0].value).startswith("pages/")]  # fmt: skip
    entries.sort(key=lambda n: (n.lineno, n.col_offset))
    return {node.elts[0].value: node.elts[3].value for node in entries}


def test_order_is_app_pys() -> None:
    assert [p for p in app_routes() if p in ORDER] == ORDER


@pytest.mark.parametrize(("page", "next_page"), list(zip(ORDER, ORDER[1:], strict=False)))
def test_lesson_ends_with_key_points_and_the_next_page(page: str, next_page: str) -> None:
    at = open_page(page)
    assert [h.value for h in at.subheader][-1] == "要点"
    links = at.get("page_link")
    assert [link.proto.page for link in links] == [app_routes()[next_page]]
    assert links[0].proto.label.startswith("下一页：") and links[0].proto.label.endswith(" →")
    at.sidebar.radio(key="lang").set_value("en").run()
    assert [h.value for h in at.subheader][-1] == "Key points"
    assert at.get("page_link")[0].proto.label.startswith("Next: ")
