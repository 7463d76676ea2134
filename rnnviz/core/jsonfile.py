"""The JSON files the project writes and the pages read back (the benchmarks' results in
``assets/benchmarks/``): written atomically, so a page that reads while a benchmark writes
sees the old file or the new one; read with a clear message when a file is not JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rnnviz.core.atomic import write_atomically
from rnnviz.errors import RnnVizError


def write_json(path: Path, data: Any) -> Path:
    """``data`` as indented UTF-8 JSON (non-ASCII kept as is), atomically."""
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    return write_atomically(path, text.encode("utf-8"))


def read_json(path: Path) -> Any | None:
    """The file's JSON; None when there is no such file; RnnVizError (naming the file) when
    it is not JSON."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RnnVizError(f"not valid JSON ({exc})", where=path.name) from None


__all__ = ["read_json", "write_json"]
