"""Fixtures for the page tests (the functions they share are in apptest_helpers.py)."""

from __future__ import annotations

import pytest
from apptest_helpers import open_page
from streamlit.testing.v1 import AppTest


@pytest.fixture
def at(request: pytest.FixtureRequest) -> AppTest:
    """app.py switched to the test module's ``PAGE``, with the shipped models as they are on
    disk. A module that needs other models overrides this fixture."""
    return open_page(request.module.PAGE)
