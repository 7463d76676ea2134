"""The package's layering, checked on the source: what each part of ``rnnviz`` may import.

- nothing in ``rnnviz`` imports Streamlit, ``ui`` or ``pages`` (the core is testable without a
  server);
- ``rnnviz.core`` imports none of ``rnnviz.lessons``, ``rnnviz.jobs`` or ``rnnviz.plots``;
- ``rnnviz.lessons`` imports no jobs and no plots (a lesson's numbers do not depend on drawing).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rnnviz

PACKAGE = Path(rnnviz.__file__).parent
FORBIDDEN = {
    "": ("streamlit", "ui", "pages"),
    "core": ("rnnviz.lessons", "rnnviz.jobs", "rnnviz.plots"),
    "lessons": ("rnnviz.jobs", "rnnviz.plots"),
}


def imported_modules(path: Path) -> list[tuple[str, int]]:
    """Every module an ``import`` or ``from ... import`` names, with its line (lazy imports
    inside functions included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            # `from rnnviz import lessons` names the subpackage through its alias
            found += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
    return found


def _violations(part: str) -> list[str]:
    root = PACKAGE / part if part else PACKAGE
    files = sorted(root.rglob("*.py"))
    assert files, f"no modules under {root}"
    bad = []
    for path in files:
        for module, line in imported_modules(path):
            for prefix in FORBIDDEN[part]:
                if module == prefix or module.startswith(prefix + "."):
                    bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}")
    return bad


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_package_part_keeps_its_import_rules(part: str) -> None:
    assert _violations(part) == []


def test_the_rule_checker_sees_a_lazy_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from rnnviz.plots import gates\n    import streamlit as st\n")
    names = [name for name, _ in imported_modules(module)]
    assert "rnnviz.plots.gates" in names and "streamlit" in names
