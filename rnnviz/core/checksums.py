"""``SHA256SUMS`` files: what ``download`` writes beside the files it fetched, in the format
``sha256sum -c`` checks ("HASH  name", one file a line)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

from rnnviz.core.atomic import write_atomically
from rnnviz.errors import RnnVizError

CHECKSUM_FILE = "SHA256SUMS"
_LINE = re.compile(r"([0-9a-fA-F]{64})\s+(.+)")


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def read_checksums(path: str | os.PathLike[str]) -> dict[str, str]:
    """File name -> sha256 hex from a ``sha256sum``-format file ("HASH  name" or "HASH *name")."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RnnVizError(f"cannot read the checksum file ({exc.strerror})",
                          where=str(path)) from None
    sums: dict[str, str] = {}
    # Bytes split on b"\n" and decoded per line: a damaged line is named, not the whole file.
    for number, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            continue
        match = _LINE.fullmatch(text)
        if match is None:
            raise RnnVizError("expected 'SHA256  file name'", where=f"{path}:{number}")
        name = match[2].strip().removeprefix("*")
        if Path(name).name != name or name in (".", ".."):
            # A checksum list may only speak for files in its own folder.
            raise RnnVizError(f"file name {name!r} leaves the folder", where=f"{path}:{number}")
        sums[name] = match[1].lower()
    return sums


def write_checksums(folder: str | os.PathLike[str], names: Sequence[str]) -> Path:
    """Write ``folder/SHA256SUMS`` for ``names`` (sha256sum -c can check it); returns its path."""
    folder = Path(folder)
    lines = [f"{sha256_file(folder / name)}  {name}\n" for name in names]
    return write_atomically(folder / CHECKSUM_FILE, "".join(lines).encode("utf-8"))


def verify_checksums(folder: str | os.PathLike[str]) -> dict[str, bool]:
    """File name -> whether its sha256 matches ``folder/SHA256SUMS`` ({} when there is none).

    A listed file that is missing counts as False.
    """
    folder = Path(folder)
    sums_path = folder / CHECKSUM_FILE
    if not sums_path.is_file():
        return {}
    return {
        name: (folder / name).is_file() and sha256_file(folder / name) == expected
        for name, expected in read_checksums(sums_path).items()
    }


__all__ = ["CHECKSUM_FILE", "read_checksums", "sha256_file", "verify_checksums",
           "write_checksums"]
