"""RNN Lab entry point: `streamlit run app.py`.

Sets process-wide settings once (torch threads), draws the shared sidebar and routes the pages
in the order of the class route (ui/route.py).
"""

from __future__ import annotations

import streamlit as st

from ui.jobs import keep_jobs_alive
from ui.lang import lang, language_selector
from ui.quiz import quiz_switch
from ui.route import ROUTE, SECTIONS, section_title
from ui.runtime import configure_process_once

configure_process_once()

st.set_page_config(page_title="RNN Lab", page_icon="🔁", layout="wide")
language_selector()
quiz_switch()
# A training job stops when its session's heartbeat goes quiet; any page keeps it alive.
keep_jobs_alive()

# A url_path equal to a page file's stem makes Streamlit fall back to legacy pages/ routing
# and run that file without app.py (no sidebar): every slug in ui/route.py differs from its
# file name.
pages = {
    section_title(section, lang()): [
        st.Page(s.path, title=s.title(lang()), url_path=s.slug, icon=s.icon, default=i == 0)
        for i, s in enumerate(ROUTE) if s.section == section
    ]
    for section in SECTIONS
}
# .streamlit/config.toml sets client.showSidebarNavigation = false so that Streamlit's own list
# of pages/ file names never shows on a fresh server's first run; this navigation is the app's
# and goes in the sidebar.
st.set_option("client.showSidebarNavigation", True)
# expanded: every stop of the route stays listed (the default folds the sidebar after 10).
st.navigation(pages, expanded=True).run()
