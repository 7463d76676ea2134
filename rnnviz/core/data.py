"""Dataset readers: THUCNews title files and cnews article files, with line-numbered problems.

Two line formats, both UTF-8 with one example per line and one tab between the columns:

* ``thucnews`` — ``text<TAB>label_id``, the class names in a ``class.txt`` beside the file
  (one per line, line index = id), as in Chinese-Text-Classification-Pytorch.
* ``cnews`` — ``label_name<TAB>text`` (体育, 财经 ...), as in the classic TensorFlow cnews
  project. Without a given class list the classes are the names seen, sorted by code point
  (Python's ``sorted``), so the same file always gives the same ids.

Files are read as bytes and decoded line by line: one bad byte costs one line, not the file.
Lenient loading (the default) skips a bad line and records it in a ``LoadReport``; strict
loading raises ``RnnVizError`` at the first problem with ``where="file:line"``. Blank lines are
ignored. U+FFFD (characters lost in the public THUCNews copy) is kept as an ordinary character.

A THUCNews folder is found in one place, ``thucnews_folder`` / ``find_thucnews``: the folder
itself or a data root's ``thucnews/``, looked for in the data directory, then where ``download``
puts it. Class display names live in rnnviz/core/classes.py, checksums in
rnnviz/core/checksums.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from rnnviz import paths
from rnnviz.content import Text
from rnnviz.errors import RnnVizError

_T = Text("core/data")
FORMATS = ("thucnews", "cnews")
SPLITS = ("train", "dev", "test")
CLASS_FILE = "class.txt"
DEFAULT_MAX_ISSUES = 200
DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # matches the app's upload cap (uploads sit in RAM)

_INT = re.compile(r"-?[0-9]+")  # ASCII digits only: int() would also take "٣", "+3", "3_0"


@dataclass(frozen=True)
class Dataset:
    """Parallel lists: ``texts[i]`` has label id ``labels[i]``, whose name is ``classes[id]``."""

    texts: list[str]
    labels: list[int]
    classes: list[str]
    source: str

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise RnnVizError(
                f"{len(self.texts)} texts but {len(self.labels)} labels", where=self.source
            )
        n = len(self.classes)
        if any(not 0 <= y < n for y in self.labels):
            raise RnnVizError(f"a label id is outside 0..{n - 1}", where=self.source)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, n: int) -> Dataset:
        """The first ``n`` examples (all of them if there are fewer)."""
        return Dataset(self.texts[:n], self.labels[:n], self.classes, self.source)

    def take(self, indices: Sequence[int]) -> Dataset:
        """The examples at ``indices``, in that order."""
        return Dataset(
            [self.texts[i] for i in indices],
            [self.labels[i] for i in indices],
            self.classes,
            self.source,
        )

    def class_counts(self) -> list[int]:
        """How many examples each class id has."""
        counts = [0] * len(self.classes)
        for y in self.labels:
            counts[y] += 1
        return counts


@dataclass(frozen=True)
class DataIssue:
    """One problem in one file; ``line`` is 1-based (0 = the whole file). Its words are
    section ``key`` of content/<lang>/core/data.md, filled with ``values``."""

    file: str
    line: int
    key: str
    values: tuple[tuple[str, object], ...] = ()

    def text(self, lang: str = "zh") -> str:
        return _T(lang, self.key, **dict(self.values))

    @property
    def message(self) -> str:
        """In English (the CLI's language)."""
        return self.text("en")

    @property
    def message_zh(self) -> str:
        return self.text("zh")

    def describe(self, lang: str = "zh") -> str:
        """E.g. "line 17: unknown label 'xyz'" / "第 17 行：未知标签 'xyz'"."""
        msg = self.text(lang)
        return msg if self.line <= 0 else _T(lang, "at_line", line=self.line, problem=msg)


@dataclass
class LoadReport:
    """What loading one file found: counts and the first ``max_issues`` problems."""

    source: str
    fmt: str = ""
    lines_read: int = 0  # non-blank lines
    lines_kept: int = 0
    issues: list[DataIssue] = field(default_factory=list)
    issues_total: int = 0  # all problems, including those beyond max_issues
    max_issues: int = DEFAULT_MAX_ISSUES

    @property
    def ok(self) -> bool:
        return self.issues_total == 0

    @property
    def truncated(self) -> bool:
        """True when more problems were found than ``issues`` lists."""
        return self.issues_total > len(self.issues)

    def add(self, issue: DataIssue) -> None:
        self.issues_total += 1
        if len(self.issues) < self.max_issues:
            self.issues.append(issue)

    def summary(self, lang: str = "zh") -> str:
        return _T(lang, "summary", source=self.source, read=self.lines_read,
                  kept=self.lines_kept, skipped=self.lines_read - self.lines_kept)


# ---- bytes -> lines ------------------------------------------------------------------------


def _wide_encoding(data: bytes) -> str | None:
    """Name a UTF-16/32 encoding that per-line UTF-8 decoding would turn into garbage."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 (it starts with a UTF-16 byte-order mark)"
    sample = data[:4096]
    # UTF-16 puts a NUL in every ASCII unit (the tab, the digits, the newline): even an
    # all-Chinese title file is ~6 % NULs. UTF-8 text has none.
    if sample and sample.count(0) * 50 > len(sample):
        return "UTF-16 or UTF-32 (it is full of NUL bytes)"
    return None


def _looks_gbk(raw: bytes) -> bool:
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


class _Line(NamedTuple):
    number: int  # 1-based, counting blank lines too
    text: str | None  # None when the bytes are not UTF-8
    raw: bytes
    bad_at: int  # offset of the first undecodable byte, -1 if none


def _split_lines(data: bytes, name: str) -> list[_Line]:
    """The non-blank lines, each decoded on its own.

    Raises for whole files in another encoding (UTF-16, GBK) rather than reporting every line.
    """
    wide = _wide_encoding(data)
    if wide:
        raise RnnVizError(f"not UTF-8: the file looks like {wide}; save it as UTF-8", where=name)
    if data.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark (Windows Notepad)
        data = data[3:]
    out: list[_Line] = []
    # Splitting bytes on b"\n" is safe for UTF-8 and GBK (0x0A is never a continuation byte),
    # and unlike str.splitlines it does not break lines at U+2028 or form feeds inside a title.
    for number, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        try:
            out.append(_Line(number, raw.decode("utf-8"), raw, -1))
        except UnicodeDecodeError as exc:
            out.append(_Line(number, None, raw, exc.start))
    bad = [line.raw for line in out if line.text is None]
    if bad and len(bad) * 2 > len(out) and all(_looks_gbk(raw) for raw in bad[:50]):
        raise RnnVizError(
            "not UTF-8: the file looks like GBK/GB18030; save it as UTF-8 "
            "(for example: iconv -f GB18030 -t UTF-8)",
            where=name,
        )
    return out


def _decode_problem(line: _Line) -> tuple[str, dict[str, object]]:
    """The words of an undecodable line: (content key, values)."""
    byte = f"0x{line.raw[line.bad_at]:02x}"
    key = "not_utf8.gbk" if _looks_gbk(line.raw) else "not_utf8"
    return key, {"byte": byte, "offset": line.bad_at}


# ---- class lists ---------------------------------------------------------------------------


def parse_classes(data: bytes, name: str) -> list[str]:
    """Class names from a class.txt's bytes: one per line, blank lines ignored, no duplicates."""
    lines = _split_lines(data, name)
    classes: list[str] = []
    for number, text, _raw, _ in lines:
        if text is None:
            raise RnnVizError("not valid UTF-8", where=f"{name}:{number}")
        cls = text.strip()
        if "\t" in cls:
            raise RnnVizError(f"class name {cls!r} contains a tab", where=f"{name}:{number}")
        if cls in classes:
            raise RnnVizError(f"duplicate class name {cls!r}", where=f"{name}:{number}")
        classes.append(cls)
    if not classes:
        raise RnnVizError("the class file is empty", where=name)
    return classes


def load_classes(path: str | os.PathLike[str]) -> list[str]:
    """Class names from a class.txt file; a missing file is an RnnVizError naming it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RnnVizError(
            f"missing class file {path}: a THUCNews-format file needs its class names, "
            f"one per line, in {CLASS_FILE} beside it"
        ) from None
    except OSError as exc:
        raise RnnVizError(f"cannot read class file ({exc.strerror})", where=str(path)) from None
    return parse_classes(data, str(path))


ClassesArg = Sequence[str] | str | os.PathLike[str] | bytes | None


def _resolve_classes(classes: ClassesArg, beside: Path | None) -> list[str] | None:
    """A class list from a list, a class file path, class file bytes, or the class.txt beside
    the data."""
    if isinstance(classes, bytes):
        return parse_classes(classes, CLASS_FILE)
    if isinstance(classes, (str, os.PathLike)):
        return load_classes(classes)
    if classes is not None:
        names = [str(c) for c in classes]
        if not names:
            raise RnnVizError("the class list is empty", where="classes")
        if len(set(names)) != len(names):
            raise RnnVizError("the class list has duplicate names", where="classes")
        return names
    return None if beside is None else load_classes(beside / CLASS_FILE)


# ---- format detection ----------------------------------------------------------------------


def _detect(lines: list[_Line], name: str) -> str:
    votes = {"thucnews": 0, "cnews": 0}
    for _number, text, _raw, _ in lines[:20]:
        if text is None:
            continue
        cols = text.split("\t")
        if len(cols) != 2:
            continue
        first_int = bool(_INT.fullmatch(cols[0].strip()))
        last_int = bool(_INT.fullmatch(cols[1].strip()))
        if last_int and not first_int:
            votes["thucnews"] += 1
        elif not last_int:
            votes["cnews"] += 1
    if votes["thucnews"] == votes["cnews"]:
        raise RnnVizError(
            "cannot tell the format: expected 'text<TAB>label id' lines (THUCNews) "
            "or 'label name<TAB>text' lines (cnews)",
            where=name,
        )
    return max(votes, key=votes.__getitem__)


def detect_format(source: str | os.PathLike[str] | bytes, name: str = "<bytes>") -> str:
    """Return "thucnews" or "cnews", judged from the first 20 non-empty lines (of a path or of
    bytes)."""
    if isinstance(source, bytes):
        data = source
    else:
        name = str(source)
        data = _read(Path(source))
    lines = _split_lines(data, name)
    if not lines:
        raise RnnVizError("the file is empty", where=name)
    return _detect(lines, name)


# ---- loading -------------------------------------------------------------------------------


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise RnnVizError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise RnnVizError("is a folder, not a data file", where=str(path)) from None
    except OSError as exc:
        raise RnnVizError(f"cannot read the file ({exc.strerror})", where=str(path)) from None


def _parse(
    data: bytes,
    name: str,
    *,
    classes: ClassesArg,
    beside: Path | None,
    fmt: str | None,
    strict: bool,
    max_issues: int,
) -> tuple[Dataset, LoadReport]:
    if fmt is not None and fmt not in FORMATS:
        raise RnnVizError(
            f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}", where="fmt"
        )
    lines = _split_lines(data, name)
    if not lines:
        raise RnnVizError("the file is empty", where=name)
    fmt = fmt or _detect(lines, name)
    # Only THUCNews files look beside themselves for class.txt: cnews labels are names.
    classes = _resolve_classes(classes, beside if fmt == "thucnews" else None)
    if fmt == "thucnews" and classes is None:
        raise RnnVizError(
            "a THUCNews-format file (text<TAB>label id) needs its class names: "
            f"give a {CLASS_FILE} or a class list",
            where=name,
        )
    report = LoadReport(source=name, fmt=fmt, lines_read=len(lines), max_issues=max_issues)

    def problem(number: int, key: str, **values: object) -> None:
        issue = DataIssue(name, number, key, tuple(values.items()))
        if strict:
            raise RnnVizError(issue.message, where=f"{name}:{number}")
        report.add(issue)
    index = {c: i for i, c in enumerate(classes)} if classes is not None else None
    rows: list[tuple[str, str, int]] = []  # (text, label, line) — labels resolved below
    for entry in lines:
        number, line = entry.number, entry.text
        if line is None:
            key, values = _decode_problem(entry)
            problem(number, key, **values)
            continue
        cols = line.split("\t")
        if len(cols) != 2:
            problem(number, f"columns.{fmt}", found=len(cols))
            continue
        text, label = (cols[0], cols[1]) if fmt == "thucnews" else (cols[1], cols[0])
        text, label = text.strip(), label.strip()
        if not label:
            problem(number, "empty_label")
            continue
        if not text:
            problem(number, "empty_text")
            continue
        if fmt == "thucnews":
            assert classes is not None
            if not _INT.fullmatch(label):
                problem(number, "label_not_int", label=repr(label))
                continue
            if not 0 <= int(label) < len(classes):
                n = len(classes)
                problem(number, "label_out_of_range", label=label, last=n - 1, n=n)
                continue
        elif index is not None and label not in index:
            problem(number, "unknown_label", label=repr(label))
            continue
        rows.append((text, label, number))

    if not rows:
        first = f"; first: {report.issues[0].describe('en')}" if report.issues else ""
        raise RnnVizError(f"no valid lines ({report.issues_total} problems{first})", where=name)
    if fmt == "thucnews":
        labels = [int(label) for _, label, _ in rows]
    else:
        if classes is None:
            classes = sorted({label for _, label, _ in rows})
            index = {c: i for i, c in enumerate(classes)}
        assert index is not None
        labels = [index[label] for _, label, _ in rows]
    assert classes is not None
    report.lines_kept = len(rows)
    dataset = Dataset([text for text, _, _ in rows], labels, list(classes), name)
    return dataset, report


def load_dataset(
    path: str | os.PathLike[str],
    *,
    classes: ClassesArg = None,
    fmt: str | None = None,
    strict: bool = False,
    max_issues: int = DEFAULT_MAX_ISSUES,
) -> tuple[Dataset, LoadReport]:
    """Load a THUCNews or cnews file (format detected unless ``fmt`` is given).

    ``classes``: a list of names, a class file path, class file bytes, or None — then a
    THUCNews file reads ``class.txt`` beside it and a cnews file uses the sorted names seen.
    Lenient mode skips and reports bad lines; ``strict=True`` raises at the first one.
    A file with no valid line raises RnnVizError either way.
    """
    path = Path(path)
    return _parse(
        _read(path),
        str(path),
        classes=classes,
        beside=path.parent,
        fmt=fmt,
        strict=strict,
        max_issues=max_issues,
    )


def load_dataset_bytes(
    data: bytes,
    name: str,
    *,
    classes: ClassesArg = None,
    fmt: str | None = None,
    strict: bool = False,
    max_issues: int = DEFAULT_MAX_ISSUES,
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
) -> tuple[Dataset, LoadReport]:
    """Load an uploaded file's bytes; ``name`` is used in messages.

    Input over ``max_bytes`` is refused before any decoding. A THUCNews-format upload needs
    ``classes`` (a list, or the bytes of an uploaded class.txt): there is no folder to look in.
    """
    if len(data) > max_bytes:
        raise RnnVizError(
            f"file too large: {len(data) / 2**20:.1f} MiB, the limit is "
            f"{max_bytes / 2**20:.1f} MiB",
            where=name,
        )
    return _parse(
        data, name, classes=classes, beside=None, fmt=fmt, strict=strict, max_issues=max_issues
    )


def thucnews_folder(root: str | os.PathLike[str], *files: str) -> Path | None:
    """The THUCNews folder at ``root`` holding all of ``files`` (e.g. "train.txt"): ``root``
    itself, else the ``thucnews/`` folder of a data root; None when neither holds them."""
    root = Path(root)
    for folder in (root, root / "thucnews"):
        if all((folder / name).is_file() for name in files):
            return folder
    return None


def find_thucnews(roots: Sequence[str | os.PathLike[str]] | None = None) -> Path | None:
    """The first THUCNews folder (train.txt + class.txt) under ``roots``: by default the data
    directory, then the download cache. None on a fresh machine."""
    for root in roots if roots is not None else (paths.data_dir(), paths.download_dir()):
        folder = thucnews_folder(root, "train.txt", CLASS_FILE)
        if folder is not None:
            return folder
    return None


def load_split(
    data_dir: str | os.PathLike[str], split: str, *, strict: bool = False
) -> tuple[Dataset, LoadReport]:
    """``DIR/<split>.txt`` with ``DIR/class.txt`` (THUCNews format).

    ``DIR`` may be the THUCNews folder itself or the data root holding ``thucnews/``.
    """
    if split not in SPLITS:
        raise RnnVizError(
            f"unknown split {split!r}; choose one of {', '.join(SPLITS)}", where="split"
        )
    folder = thucnews_folder(data_dir, f"{split}.txt")
    if folder is None:
        raise RnnVizError(
            f"no {split} split at {Path(data_dir) / f'{split}.txt'}; fetch THUCNews with "
            "`python -m rnnviz download thucnews` or point $RNNVIZ_DATA_DIR at a folder "
            "holding it"
        )
    path = folder / f"{split}.txt"
    return load_dataset(path, classes=folder / CLASS_FILE, fmt="thucnews", strict=strict)
