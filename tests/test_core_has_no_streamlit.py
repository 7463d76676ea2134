"""The core must stay importable and testable without Streamlit."""

import ast
from pathlib import Path

import rnnviz

CORE = Path(rnnviz.__file__).parent


def test_no_module_in_core_imports_streamlit() -> None:
    offenders = []
    files = sorted(CORE.rglob("*.py"))
    assert files, "core package has no modules"
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
