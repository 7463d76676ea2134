"""The words on the pages, kept out of the code in per-language Markdown files.

``content/<lang>/<doc>.md`` holds one document (a page, a UI helper, a plot module). A line
``## key`` opens a section; its body runs to the next such line, blank lines at either end
trimmed. ``{{name}}`` in a body is filled in when the page asks for it (``{{name:.3f}}``
applies a format spec), so the numbers a sentence quotes come from the code and the words from
the file. A teacher fixes a sentence or a translation in the file and reloads the page: a
changed file is read again (its modification time is checked on each use).

The same keys, with the same placeholders, exist in every language: tests/test_content.py
fails otherwise, and on a key that no code asks for.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnviz.errors import RnnVizError
from rnnviz.i18n import DEFAULT_LANGUAGE, LANGUAGES
from rnnviz.paths import PROJECT_ROOT

CONTENT_DIR = PROJECT_ROOT / "content"
KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::([^}]*))?\}\}")


@dataclass(frozen=True)
class Document:
    """One file's sections, key -> body, in file order."""

    path: Path
    sections: dict[str, str]


def parse(source: str, path: Path) -> dict[str, str]:
    """Sections of a content file. A malformed key, a duplicate key or text before the first
    key is an error naming the file and line: a typo must not silently drop a sentence."""
    sections: dict[str, str] = {}
    key: str | None = None
    body: list[str] = []

    def close() -> None:
        if key is not None:
            sections[key] = "\n".join(body).strip("\n")

    for number, line in enumerate(source.splitlines(), start=1):
        if line.startswith("## "):
            name = line[3:].strip()
            if not KEY.match(name):
                raise RnnVizError(f"line {number}: {name!r} is not a section key (letters, "
                                  "digits, '_', '.', '-')", where=str(path))
            if name in sections or name == key:
                raise RnnVizError(f"line {number}: section {name!r} appears twice", where=str(path))
            close()
            key, body = name, []
        elif key is None:
            if line.strip():
                raise RnnVizError(f"line {number}: text before the first '## key' line",
                                  where=str(path))
        else:
            body.append(line)
    close()
    return sections


def placeholders(body: str) -> set[str]:
    """The names a body's ``{{name}}`` placeholders ask for."""
    return {m.group(1) for m in PLACEHOLDER.finditer(body)}


def fill(body: str, values: dict[str, Any], where: str = "") -> str:
    """``body`` with each ``{{name}}`` / ``{{name:spec}}`` replaced by ``values[name]``."""

    def one(match: re.Match[str]) -> str:
        name, spec = match.group(1), match.group(2)
        if name not in values:
            raise RnnVizError(f"no value given for {{{{{name}}}}}", where=where or None)
        value = values[name]
        return format(value, spec) if spec else str(value)

    return PLACEHOLDER.sub(one, body)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def literal(user_text: str) -> str:
    """``user_text`` made safe to put inside a Markdown section: every character Markdown or
    KaTeX would read as syntax is escaped, so "*" or "$" shows as itself."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", user_text)


def doc_path(doc: str, lang: str) -> Path:
    """``content/<lang>/<doc>.md``; ``doc`` may name a subfolder ("plots/gates")."""
    return CONTENT_DIR / lang / f"{doc}.md"


_cache: dict[Path, tuple[int, Document]] = {}
_lock = threading.Lock()


def load(doc: str, lang: str) -> Document:
    """The document for ``lang`` (unknown languages read the default one), read again when
    its file changed."""
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    path = doc_path(doc, lang)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise RnnVizError(f"no content file for {doc!r} in {lang!r}", where=str(path)) from None
    with _lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
    document = Document(path, parse(path.read_text(encoding="utf-8"), path))
    with _lock:
        _cache[path] = (mtime, document)
    return document


def text(lang: str, doc: str, key: str, **values: Any) -> str:
    """Section ``key`` of ``doc`` in ``lang``, placeholders filled from ``values``."""
    document = load(doc, lang)
    try:
        body = document.sections[key]
    except KeyError:
        raise RnnVizError(f"no section {key!r}", where=str(document.path)) from None
    return fill(body, values, where=f"{document.path}#{key}") if values or "{{" in body else body


class Text:
    """One document, asked for by key: ``T = Text("plots/gates"); T(lang, "title")``."""

    def __init__(self, doc: str) -> None:
        self.doc = doc

    def __call__(self, lang: str, key: str, **values: Any) -> str:
        return text(lang, self.doc, key, **values)

    def keys(self, lang: str = DEFAULT_LANGUAGE) -> list[str]:
        return list(load(self.doc, lang).sections)


def documents(lang: str = DEFAULT_LANGUAGE) -> list[str]:
    """Every document name present for ``lang`` ("lstm_gru", "plots/gates", ...)."""
    root = CONTENT_DIR / lang
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.md"))


__all__ = ["CONTENT_DIR", "Document", "Text", "documents", "fill", "literal", "load", "parse",
           "placeholders", "text"]
