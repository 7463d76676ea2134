"""How every lesson page ends: its key points, then the link to the next stop on the route."""

from __future__ import annotations

import streamlit as st

from ui.lang import PageText, lang, page_text
from ui.route import next_stop

_T = page_text("ui/lesson")


def lesson_end(text: PageText) -> None:
    """The page's ``points`` section under "Key points", then a link to the next stop."""
    st.subheader(_T("key_points"))
    st.markdown(text("points"))
    next_stop_link(text.doc)


def next_stop_link(page: str) -> None:
    """A link to the stop after ``page`` on the route (nothing after the last)."""
    after = next_stop(page)
    if after is not None:
        st.page_link(after.path, label=_T("next", title=after.title(lang())), icon=after.icon)


__all__ = ["lesson_end", "next_stop_link"]
