"""The benchmarks' JSON files: written atomically, read back with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnviz.core.jsonfile import read_json, write_json
from rnnviz.errors import RnnVizError


def test_a_written_file_reads_back_the_same_with_chinese_kept_readable(tmp_path: Path) -> None:
    data = {"model": "textrnn", "名称": "体育", "runs": [0.8977, 59.6], "none": None}
    path = write_json(tmp_path / "new" / "figures.json", data)
    assert read_json(path) == data
    assert "体育" in path.read_text(encoding="utf-8")  # not \\u escapes: a reader can check it
    assert [p.name for p in path.parent.iterdir()] == ["figures.json"]  # no temporary left


def test_rewriting_replaces_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "figures.json"
    write_json(path, {"a": list(range(1000))})
    write_json(path, {"b": 1})
    assert read_json(path) == {"b": 1}


def test_an_absent_file_is_none_and_a_broken_one_is_named(tmp_path: Path) -> None:
    assert read_json(tmp_path / "absent.json") is None
    broken = tmp_path / "ladder.json"
    broken.write_text('{"rungs": [', encoding="utf-8")
    with pytest.raises(RnnVizError, match=r"ladder\.json: not valid JSON"):
        read_json(broken)
    broken.write_bytes(b"\xff\xfe{}")
    with pytest.raises(RnnVizError, match="not valid JSON"):
        read_json(broken)
