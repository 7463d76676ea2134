"""The words on the pages: content files parse, both languages hold the same keys with the same
placeholders, every key is used by some code, and every key the code asks for exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from rnnviz import content
from rnnviz.content import Text, documents, fill, load, parse, placeholders, text
from rnnviz.errors import RnnVizError
from rnnviz.i18n import LANGUAGES
from rnnviz.paths import PROJECT_ROOT

CODE = sorted([PROJECT_ROOT / "app.py", *(PROJECT_ROOT / "pages").glob("*.py"),
               *(PROJECT_ROOT / "ui").glob("*.py"), *(PROJECT_ROOT / "rnnviz").rglob("*.py")])
BINDERS = {"page_text": 0, "Text": 1}  # binder -> position of the key in a call of what it binds
# Helpers that take a page's words and ask for its sections by key (lesson_end asks "points"):
# their keys count as used for every document.
SHARED_HELPERS = {PROJECT_ROOT / "ui" / "lesson.py", PROJECT_ROOT / "ui" / "quiz.py"}
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def _docs() -> list[str]:
    return documents("zh")


def _strings(tree: ast.AST) -> tuple[set[str], list[re.Pattern[str]]]:
    """(string constants, f-strings as patterns: f"{page}.title" -> ".+\\.title") of a module."""
    constants, patterns = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            constants.add(node.value)
        elif isinstance(node, ast.JoinedStr):
            parts = [re.escape(v.value) if isinstance(v, ast.Constant) else ".+"
                     for v in node.values]
            if any(not isinstance(v, ast.Constant) for v in node.values):
                patterns.append(re.compile("".join(parts)))
    return constants, patterns


def _bindings(tree: ast.AST) -> dict[str, tuple[str, int]]:
    """Names bound to a document in a module: ``T = page_text("doc")`` -> {"T": ("doc", 0)}."""
    out = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id in BINDERS
                and node.value.args and isinstance(node.value.args[0], ast.Constant)):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = (node.value.args[0].value, BINDERS[node.value.func.id])
    return out


def _parsed() -> dict[Path, ast.AST]:
    return {path: ast.parse(path.read_text(encoding="utf-8")) for path in CODE}


def test_every_content_file_parses_and_languages_match() -> None:
    zh, en = set(documents("zh")), set(documents("en"))
    assert zh, "no content files"
    assert zh == en, f"documents in one language only: {sorted(zh ^ en)}"
    for doc in zh:
        a, b = load(doc, "zh").sections, load(doc, "en").sections
        assert set(a) == set(b), f"{doc}: keys in one language only: {sorted(set(a) ^ set(b))}"
        for key in a:
            assert a[key].strip() and b[key].strip(), f"{doc}#{key} is empty"
            assert placeholders(a[key]) == placeholders(b[key]), f"{doc}#{key}: placeholders differ"


def test_every_key_is_used_by_the_code() -> None:
    per_file = {path: _strings(tree) for path, tree in _parsed().items()}
    unused = []
    for doc in _docs():
        users = [strings for path, strings in per_file.items()
                 if doc in strings[0] or path in SHARED_HELPERS]
        for key in load(doc, "zh").sections:
            if not any(key in consts or any(p.fullmatch(key) for p in patterns)
                       for consts, patterns in users):
                unused.append(f"{doc}#{key}")
    assert unused == []


def test_every_key_the_code_asks_for_exists_with_its_values() -> None:
    missing = []
    for path, tree in _parsed().items():
        bound = _bindings(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in bound):
                continue
            doc, position = bound[node.func.id]
            if len(node.args) <= position or not isinstance(node.args[position], ast.Constant):
                continue  # a computed key: the page tests render it
            key = node.args[position].value
            sections = load(doc, "zh").sections
            where = f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {doc}#{key}"
            if key not in sections:
                missing.append(f"{where} does not exist")
            elif not any(kw.arg is None for kw in node.keywords):  # no **values
                given = {kw.arg for kw in node.keywords}
                if placeholders(sections[key]) - given:
                    missing.append(f"{where} needs {sorted(placeholders(sections[key]) - given)}")
    assert missing == []


@pytest.mark.parametrize("path", [p for p in CODE if not p.is_relative_to(PROJECT_ROOT / "rnnviz")],
                         ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_pages_and_ui_hold_no_chinese_words(path: Path) -> None:
    rel = str(path.relative_to(PROJECT_ROOT))
    lines = [f"{rel}:{n}" for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if CJK.search(line)]
    assert lines == []


# ---- the loader itself ----------------------------------------------------------------------


def test_sections_run_to_the_next_key_and_are_trimmed(tmp_path: Path) -> None:
    source = "## a\n\nfirst line\n\nsecond **para**\n\n## b.c\n$x^{2}$ and {{n:.2f}}\n"
    assert parse(source, tmp_path / "x.md") == {"a": "first line\n\nsecond **para**",
                                                "b.c": "$x^{2}$ and {{n:.2f}}"}


@pytest.mark.parametrize("source, message", [
    ("stray\n## a\nx\n", "before the first"),
    ("## a\nx\n## a\ny\n", "appears twice"),
    ("## Bad Key\nx\n", "is not a section key"),
])
def test_a_malformed_file_names_its_line(tmp_path: Path, source: str, message: str) -> None:
    with pytest.raises(RnnVizError, match=message):
        parse(source, tmp_path / "x.md")


def test_placeholders_take_format_specs_and_leave_latex_braces_alone() -> None:
    body = r"$0.99^{100} \approx {{v:.3f}}$, {{name}}"
    assert placeholders(body) == {"v", "name"}
    assert fill(body, {"v": 0.36603, "name": "T"}) == r"$0.99^{100} \approx 0.366$, T"
    with pytest.raises(RnnVizError, match="no value given"):
        fill(body, {"v": 1.0})


def test_an_edited_file_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(content, "CONTENT_DIR", tmp_path)
    for lang in LANGUAGES:
        (tmp_path / lang).mkdir()
        (tmp_path / lang / "d.md").write_text("## k\nold\n", encoding="utf-8")
    assert text("zh", "d", "k") == "old"
    path = tmp_path / "zh" / "d.md"
    path.write_text("## k\nnew words\n", encoding="utf-8")
    stat = path.stat()
    import os

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert Text("d")("zh", "k") == "new words"
    assert text("fr", "d", "k") == "new words"  # an unknown language reads the default one
    with pytest.raises(RnnVizError, match="no section 'missing'"):
        text("en", "d", "missing")


def test_every_question_prompt_ends_with_a_question_mark() -> None:
    """ui/quiz.py asks ``<key>.prompt``: a question, in both languages (？ or ?)."""
    bad = [f"{doc}#{key} ({lang})" for doc in _docs() for lang in LANGUAGES
           for key, body in load(doc, lang).sections.items()
           if key.endswith(".prompt") and not body.rstrip().endswith(("？", "?"))]
    assert bad == []
