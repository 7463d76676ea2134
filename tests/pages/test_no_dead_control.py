"""Every widget changes something (the brief: no dead control).

Each page of the route is opened with questions off (so nothing waits behind an answer), then
each of its widgets is moved to another value, one at a time: what the page shows besides its
widgets (text, formulas, figures, tables, metrics) must change. A setting that only shapes the
next training run shows nothing until that run; those are listed in ``NEXT_RUN`` with the test
that checks them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from apptest_helpers import open_page
from streamlit.testing.v1 import AppTest

from ui.route import ROUTE

# Widgets whose effect is the next training run (seen once it trains), by page, and where that
# effect is tested.
NEXT_RUN: dict[str, set[str]] = {
    # test_long_dependency_page.py::test_start_runs_a_job_to_done_and_the_curves_and_sweep_render
    "long_dependency": {"longdep_steps", "longdep_chrono"},
    # test_memory_network_page.py::test_the_run_takes_the_hops_seed_and_linear_start_chosen
    "memory_network": {"memnet_hops", "memnet_seed", "memnet_linear"},
    # test_recursive_page.py::test_the_toy_run_trains_both_models_in_the_background_and_...
    # ... and what the Merge button joins: test_recursive_page.py's merge tests
    "recursive": {"recursive_seed", "recursive_leaves", "recursive_pair"},
    # test_training_presets_page.py::test_every_custom_setting_reaches_the_run
    **{page: {f"{prefix}_{name}" for name in ("epochs", "batch", "lr", "tokenizer", "limit",
                                               "patience", "evals", "max_steps", "budget",
                                               "quick")}
       for page, prefix in (("textrnn", "train"), ("textrcnn", "rcnn"))},
}
SIDEBAR = {"lang", "quiz_on"}
WIDGETS = ("slider", "select_slider", "selectbox", "radio", "number_input", "checkbox", "toggle",
           "text_input", "text_area", "multiselect")


def _walk(node: Any) -> Iterator[Any]:
    children = getattr(node, "children", None)
    if children is None:
        yield node
        return
    for child in children.values():
        yield from _walk(child)


def shown(at: AppTest) -> list[object]:
    """Everything on the page as the browser receives it, but the widgets' own values: a
    widget counts by its being there (a control that brings up another control does
    something)."""
    out: list[object] = []
    for n in _walk(at.main):
        if getattr(n, "proto", None) is None:
            continue
        kind = getattr(n, "type", None)
        out.append((kind, n.key, n.label) if kind in WIDGETS else n.proto.SerializeToString())
    return out


def _by_label(w: Any, label: str) -> Any:
    """Choose the option shown as ``label``, as a browser does (the page maps it back to its
    value): the tree knows options only by their labels."""
    w.__class__ = type(f"ByLabel{type(w).__name__}", (type(w),),
                       {"format_func": property(lambda self: (lambda v: v))})
    return w.set_value(label)


def move(w: Any) -> bool:
    """Set ``w`` to another value; False when it has no other."""
    kind = w.type
    if kind == "slider":
        if isinstance(w.value, tuple | list):
            return False
        w.set_value(w.proto.max if w.value != w.proto.max else w.proto.min)
    elif kind == "number_input":
        top = w.proto.max if w.proto.has_max else None
        if top is not None and w.value is not None and w.value >= top:
            w.decrement()
        else:
            w.increment()
    elif kind in ("checkbox", "toggle"):
        w.set_value(not w.value)
    elif kind in ("radio", "selectbox", "select_slider"):
        labels = list(w.options)
        if len(labels) < 2:
            return False
        current = w.format_func(w.value) if w.value is not None else None
        other = labels[-1] if labels[-1] != str(current) else labels[0]
        _by_label(w, other)
    elif kind in ("text_input", "text_area"):
        # In front: a forward RNN's step t reads only what comes before it.
        w.set_value("国足公布亚洲杯名单" + (w.value or ""))
    elif kind == "multiselect":
        chosen = [str(w.format_func(v)) for v in w.value]
        if len(chosen) > 1:
            _by_label(w, chosen[:-1])
        else:
            more = [label for label in w.options if label not in chosen]
            if not more:
                return False
            _by_label(w, [*chosen, more[0]])
    else:
        return False
    return True


@pytest.mark.parametrize("stop", ROUTE, ids=lambda s: s.page)
def test_every_widget_changes_what_the_page_shows(stop) -> None:
    at = open_page(stop.path)
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    dead, tried = [], set()
    for _ in range(3):  # a widget may bring up others (a training page's custom settings)
        keys = [w.key for kind in WIDGETS for w in getattr(at, kind)
                if w.key and w.key not in SIDEBAR | tried and not w.form_id]
        for key in keys:
            tried.add(key)
            found = [w for kind in WIDGETS for w in getattr(at, kind) if w.key == key]
            if not found:
                continue  # another widget's change took it away
            before = shown(at)
            if not move(found[0]):
                continue
            at.run()
            assert not at.exception, f"{stop.page}: moving {key} raised {at.exception[0].value}"
            if shown(at) == before:
                dead.append(key)
    assert set(dead) <= NEXT_RUN.get(stop.page, set()), f"{stop.page}: nothing changes for {dead}"
