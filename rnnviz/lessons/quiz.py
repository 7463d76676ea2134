"""Predict, then reveal: the questions a lesson asks before it shows an answer.

A question's answer is computed from the page's live numbers (a slider's value, a trained
model's output), never typed in; its words (prompt, options, the one-line why) live in the
page's content file under ``<key>.prompt``, ``<key>.why`` and ``<key>.opt.<option>``, filled
with ``values``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rnnviz.errors import RnnVizError


@dataclass(frozen=True)
class Question:
    """A choice (``options`` given, ``answer`` one of them) or a number (``answer`` a float,
    right within ``rel_tol`` of it, or ``abs_tol``)."""

    key: str
    answer: str | float
    options: tuple[str, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    rel_tol: float = 0.1
    abs_tol: float = 0.0
    fmt: str = ".4g"  # how a numeric answer is shown

    def __post_init__(self) -> None:
        if self.options and self.answer not in self.options:
            raise RnnVizError(f"answer {self.answer!r} is not among the options {self.options}",
                              where=f"question {self.key}")
        if not self.options and not isinstance(self.answer, int | float):
            raise RnnVizError("a question without options needs a numeric answer",
                              where=f"question {self.key}")

    @property
    def is_choice(self) -> bool:
        return bool(self.options)

    @property
    def ident(self) -> str:
        """Names this question with these numbers: when the live numbers change, it is a new
        question and the student answers again."""
        shown = ",".join(f"{k}={v}" for k, v in sorted(self.values.items()))
        return f"{self.key}|{shown}|{self.answer}"

    def shown_answer(self) -> str:
        """A numeric answer as the page shows it (a choice is shown by its option's words)."""
        return str(self.answer) if self.is_choice else format(float(self.answer), self.fmt)

    def grade(self, response: str | float) -> bool:
        """Whether ``response`` is right."""
        if self.is_choice:
            return response == self.answer
        try:
            value = float(response)
        except (TypeError, ValueError):
            return False
        return math.isclose(value, float(self.answer), rel_tol=self.rel_tol, abs_tol=self.abs_tol)


__all__ = ["Question"]
