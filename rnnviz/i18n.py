"""Bilingual text: Chinese first (the course material is Chinese), English switchable."""

from __future__ import annotations

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


def pick(lang: str, zh: str, en: str) -> str:
    """Return the string for ``lang`` ("zh" or "en"); unknown languages fall back to Chinese."""
    return en if lang == "en" else zh
