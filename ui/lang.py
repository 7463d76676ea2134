"""The language switch shared by every page (Chinese first, English switchable)."""

from __future__ import annotations

import streamlit as st

from rnnviz.i18n import DEFAULT_LANGUAGE, pick

LANG_KEY = "lang"


def lang() -> str:
    """The session's language code, "zh" or "en"."""
    return st.session_state.get(LANG_KEY, DEFAULT_LANGUAGE)


def tr(zh: str, en: str) -> str:
    """The string in the session's language."""
    return pick(lang(), zh, en)


def language_selector() -> None:
    """Sidebar radio; drawn once by app.py so every page shares it."""
    st.sidebar.radio(
        "语言 / Language",
        options=["zh", "en"],
        format_func=lambda code: "中文" if code == "zh" else "English",
        key=LANG_KEY,
        horizontal=True,
    )
