"""The session's language and the words of a page in it (Chinese first, English switchable).

Words live in content/<lang>/<doc>.md (rnnviz/content.py): a page binds its document once,
``T = page_text("lstm_gru")``, and asks for sections by key, ``st.markdown(T("intro"))``.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from rnnviz.content import Text
from rnnviz.i18n import DEFAULT_LANGUAGE, LANGUAGES, pick

LANG_KEY = "lang"


def lang() -> str:
    """The session's language code, "zh" or "en"."""
    return st.session_state.get(LANG_KEY, DEFAULT_LANGUAGE)


def tr(zh: str, en: str) -> str:
    """The string in the session's language."""
    return pick(lang(), zh, en)


class PageText:
    """A content document read in the session's language at each call."""

    def __init__(self, doc: str) -> None:
        self.doc = doc
        self._text = Text(doc)

    def __call__(self, key: str, **values: Any) -> str:
        return self._text(lang(), key, **values)


def page_text(doc: str) -> PageText:
    """The words of ``doc`` (content/<lang>/<doc>.md) for this session."""
    return PageText(doc)


_T = page_text("ui/common")


def language_selector() -> None:
    """Sidebar radio; drawn once by app.py so every page shares it."""
    st.sidebar.radio(
        _T("language"),
        options=list(LANGUAGES),
        format_func=lambda code: _T(f"language.{code}"),
        key=LANG_KEY,
        horizontal=True,
    )
