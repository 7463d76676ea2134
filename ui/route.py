"""The class route: every page in teaching order, declared once.

app.py builds the navigation from it, the home page draws it as the class map, and every
lesson's "next stop" link follows it. A stop's title and one-line summary live in
content/<lang>/ui/route.md under ``<page>.title`` and ``<page>.line``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnviz.content import Text

SECTIONS = ("start", "lessons", "classifiers")
_T = Text("ui/route")


@dataclass(frozen=True)
class Stop:
    page: str  # the file stem in pages/ and the name of its content document
    slug: str  # its URL path: never equal to the file stem (see app.py)
    icon: str
    section: str
    minutes: int = 0  # about how long it takes in class (0: not timed)

    @property
    def path(self) -> str:
        return f"pages/{self.page}.py"

    def title(self, lang: str) -> str:
        return _T(lang, f"{self.page}.title")

    def line(self, lang: str) -> str:
        return _T(lang, f"{self.page}.line")


ROUTE: tuple[Stop, ...] = (
    Stop("home", "welcome", "🏠", "start"),
    Stop("rnn_structure", "rnn-structure", "🔁", "lessons", 8),
    Stop("recursive", "recursive-networks", "🌳", "lessons", 6),
    Stop("bptt", "backprop-through-time", "🔙", "lessons", 8),
    Stop("gradients", "vanishing-exploding-gradients", "📉", "lessons", 6),
    Stop("long_dependency", "long-dependency", "⏳", "lessons", 5),
    Stop("lstm_gru", "lstm-gru", "🚪", "lessons", 8),
    Stop("lstm_steps", "lstm-gru-step-by-step", "🔢", "lessons", 8),
    Stop("memory_network", "memory-networks", "🗂️", "lessons", 8),
    Stop("bidirectional", "bidirectional-rnn", "↔️", "lessons", 4),
    Stop("textrnn", "train-textrnn", "🧪", "classifiers", 5),
    Stop("padding", "padding-pitfall", "📏", "classifiers", 6),
    Stop("textrcnn", "train-textrcnn", "🧱", "classifiers", 4),
    Stop("predict", "predict-and-gates", "🔍", "classifiers", 5),
    Stop("errors", "what-the-model-gets-wrong", "🧐", "classifiers", 6),
)


def section_title(section: str, lang: str) -> str:
    return _T(lang, f"section.{section}")


def stop(page: str) -> Stop:
    """The stop for ``page`` (a file stem such as "bptt")."""
    for s in ROUTE:
        if s.page == page:
            return s
    raise KeyError(f"{page!r} is not on the route")


def next_stop(page: str) -> Stop | None:
    """The stop after ``page`` on the route; None after the last."""
    pages = [s.page for s in ROUTE]
    i = pages.index(page)
    return ROUTE[i + 1] if i + 1 < len(ROUTE) else None


__all__ = ["ROUTE", "SECTIONS", "Stop", "next_stop", "section_title", "stop"]
