"""The session's language and the words of a page in it (Chinese first, English switchable).

Words live in content/<lang>/<doc>.md (rnnviz/content.py): a page binds its document once,
``T = page_text("lstm_gru")``, and asks for sections by key, ``st.markdown(T("intro"))``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import streamlit as st

from rnnviz.content import Text
from rnnviz.i18n import DEFAULT_LANGUAGE, LANGUAGES

LANG_KEY = "lang"


def lang() -> str:
    """The session's language code, "zh" or "en"."""
    return st.session_state.get(LANG_KEY, DEFAULT_LANGUAGE)


class PageText:
    """A content document read in the session's language at each call."""

    def __init__(self, doc: str) -> None:
        self.doc = doc
        self._text = Text(doc)

    def __call__(self, key: str, **values: Any) -> str:
        return self._text(lang(), key, **values)


def page_text(doc: str) -> PageText:
    """The words of ``doc`` (content/<lang>/<doc>.md) for this session."""
    _run_pages_through_app()
    return PageText(doc)


def _run_pages_through_app() -> None:
    """Send a page that Streamlit runs on its own to app.py instead.

    Until app.py's st.navigation has run once, a fresh server is in Streamlit's legacy pages/
    mode (pages/ lies beside app.py): a first request for a file stem such as /bptt runs
    pages/bptt.py alone, without app.py's sidebar, language switch or job heartbeat. Such a run
    has no app.py on its call stack (app.py runs every page itself); it switches to app.py,
    whose st.navigation ends that mode for every session, and the student lands on the home
    page as for any unknown address.
    """
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    # Streamlit's own flag for that mode (streamlit/runtime/pages_manager.py, 1.67); should it
    # go, this check stays off and tests/e2e/test_e2e_first_screen.py fails.
    if ctx is None or not getattr(PagesManager, "uses_pages_directory", False):
        return  # not in a script run, or the app's navigation is in place
    app = os.path.realpath(ctx.main_script_path)
    frame = sys._getframe(1)
    while frame is not None:
        if os.path.realpath(frame.f_code.co_filename) == app:
            return
        frame = frame.f_back
    st.switch_page(app)


_T = page_text("ui/common")


def language_selector() -> None:
    """Sidebar radio; drawn once by app.py so every page shares it."""
    st.sidebar.radio(
        _T("language"),
        options=list(LANGUAGES),
        format_func={code: _T(f"language.{code}") for code in LANGUAGES}.__getitem__,
        key=LANG_KEY,
        horizontal=True,
    )
