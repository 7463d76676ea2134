"""The languages: Chinese first (the course material is Chinese), English switchable. The
words themselves are in content/<lang>/ (rnnviz/content.py)."""

from __future__ import annotations

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
