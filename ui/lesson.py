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
    after = next_stop(text.doc)
    if after is not None:
        st.page_link(after.path, label=_T("next", title=after.title(lang())), icon=after.icon)


__all__ = ["lesson_end"]
