"""How every lesson page ends: its key points, then the link to the next page."""

from __future__ import annotations

import streamlit as st

from rnnviz.paths import PROJECT_ROOT
from ui.lang import tr


def lesson_end(points: tuple[str, str], next_page: str, next_title: tuple[str, str], icon: str) -> None:
    """The "key points" list (Chinese, English markdown) and a link to ``next_page`` (a path
    like "pages/bptt.py", titled (Chinese, English)); a caption while that page is not written."""
    st.subheader(tr("要点", "Key points"))
    st.markdown(tr(*points))
    zh, en = next_title
    if (PROJECT_ROOT / next_page).is_file():
        st.page_link(next_page, label=tr(f"下一页：{zh} →", f"Next: {en} →"), icon=icon)
    else:
        st.caption(tr(f"下一页：{zh}（即将上线）", f"Next: {en} (coming soon)"))


__all__ = ["lesson_end"]
