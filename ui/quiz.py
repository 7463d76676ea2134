"""Predict, then reveal: a lesson's question, the student's committed answer, the reveal.

Answers are kept in the student's own session (``st.session_state``), never shared. A question
whose live numbers change (a slider moved) is a new question, asked again. The sidebar switch
(``quiz_switch``, drawn by app.py) turns questions off for a teacher's demo: every question is
then shown already answered.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from rnnviz.lessons.quiz import Question
from ui.lang import PageText, page_text

QUIZ_ON_KEY = "quiz_on"
ANSWERS_KEY = "quiz_answers"  # session_state: {Question.ident: Answer}
_T = page_text("ui/quiz")


@dataclass(frozen=True)
class Answer:
    response: str | float
    correct: bool


def questions_on() -> bool:
    return bool(st.session_state.get(QUIZ_ON_KEY, True))


def quiz_switch() -> None:
    """The sidebar toggle (drawn once by app.py)."""
    st.sidebar.toggle(_T("switch"), value=True, key=QUIZ_ON_KEY, help=_T("switch.help"))


def answers() -> dict[str, Answer]:
    """This session's answers, by question."""
    return st.session_state.setdefault(ANSWERS_KEY, {})


def ask(text: PageText, q: Question) -> bool:
    """Draw ``q`` (its words from ``text``: ``<key>.prompt``, ``<key>.opt.<o>``, ``<key>.why``).

    Until the student commits an answer the box asks; then it shows whether they were right,
    the right answer and the one-line why. Returns True once the answer is revealed (or
    questions are off), so a page can hold back a figure that would give it away.
    """

    # Labels looked up now, in this run's language: a widget may call format_func later.
    labels = {o: text(f"{q.key}.opt.{o}", **q.values) for o in q.options}
    option = labels.__getitem__

    with st.container(border=True):
        st.markdown(f"**{_T('badge')}** {text(f'{q.key}.prompt', **q.values)}")
        given = answers().get(q.ident)
        if given is None and questions_on():
            with st.form(f"quiz_{q.key}", border=False):
                if q.is_choice:
                    response = st.radio(_T("your_answer"), q.options, index=None, horizontal=True,
                                        format_func=option, key=f"quiz_{q.key}_choice")
                else:
                    response = st.number_input(_T("your_answer"), value=None, format="%g",
                                               key=f"quiz_{q.key}_number")
                committed = st.form_submit_button(_T("commit"))
            if not committed:
                return False
            if response is None:
                st.warning(_T("answer_first"))
                return False
            given = Answer(response, q.grade(response))
            answers()[q.ident] = given
        right = option(str(q.answer)) if q.is_choice else q.shown_answer()
        if given is None:  # questions are off: the answer, as in a lecture
            st.info(_T("answer", answer=right))
        elif given.correct:
            st.success(_T("right", answer=right))
        else:
            yours = option(str(given.response)) if q.is_choice else f"{float(given.response):g}"
            st.warning(_T("wrong", answer=right, yours=yours))
        st.caption(text(f"{q.key}.why", **q.values))
    return True


__all__ = ["ANSWERS_KEY", "QUIZ_ON_KEY", "Answer", "answers", "ask", "questions_on", "quiz_switch"]
