"""Fetch the public THUCNews title split: ``python -m rnnviz download thucnews [--dest DIR]``.

The files come from the GitHub repository 649453932/Chinese-Text-Classification-Pytorch
(``THUCNews/data/``), or from a mirror given as a base URL (``--source``, or
$RNNVIZ_DOWNLOAD_BASE): http(s)://, file:// or a local folder. Each file streams into a
``.part`` file that is renamed only once verified, so an interrupted run never leaves a file
that looks complete; a later run resumes the ``.part`` with an HTTP Range request, or starts
it over when the server ignores ranges. Files already present and verified are skipped.

Verification: sha256 where we know it, otherwise the expected line count and the format
(every line ``text<TAB>id`` with the id in range). A ``SHA256SUMS`` of what was fetched is
written beside the files.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnviz.core.checksums import sha256_file, write_checksums
from rnnviz.core.data import CLASS_FILE, load_classes, load_dataset
from rnnviz.errors import RnnVizError
from rnnviz.paths import data_dir

BASE_URL_ENV = "RNNVIZ_DOWNLOAD_BASE"
DEFAULT_BASE_URL = (
    "https://raw.githubusercontent.com/649453932/Chinese-Text-Classification-Pytorch/"
    "master/THUCNews/data/"
)
CHUNK_SIZE = 64 * 1024
USER_AGENT = "rnnviz-download/1"

Progress = Callable[[str, int, "int | None"], None]  # (file name, bytes done, total or None)


@dataclass(frozen=True)
class RemoteFile:
    name: str
    lines: int
    sha256: tuple[str, ...]  # accepted hashes; () where none is known: never guess one


# class.txt comes first: the other files are checked against its number of classes.
# Only class.txt's hashes are known; the public train/dev/test files are checked by line
# count and format instead. The repository's history holds two class.txt versions, both
# without a final newline: English names (the copy in our shared data) and the same classes
# in Chinese (财经 ... 娱乐, same order); either is accepted.
DATASETS: dict[str, tuple[RemoteFile, ...]] = {
    "thucnews": (
        RemoteFile(
            CLASS_FILE,
            10,
            (
                "005e8813ad639c219e5902dc84889202b4a717b4238497d26c3fbd5e43927a86",  # English
                "740ee23a944ec3af9122aa332514e6277e1302007f9c716e531471391ff7af89",  # Chinese
            ),
        ),
        RemoteFile("train.txt", 180_000, ()),
        RemoteFile("dev.txt", 10_000, ()),
        RemoteFile("test.txt", 10_000, ()),
    ),
}


def resolve_base_url(base_url: str | None = None) -> str:
    """The base URL: the argument, else $RNNVIZ_DOWNLOAD_BASE, else GitHub; always ends in "/".

    A local folder path is turned into a file:// URL.
    """
    base = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if "://" not in base:
        folder = Path(base).expanduser()
        if not folder.is_dir():
            raise RnnVizError(
                f"source {base!r} is neither a URL (http://, https://, file://) nor a folder",
                where="source",
            )
        base = folder.resolve().as_uri()
    return base if base.endswith("/") else base + "/"


def _failure(url: str, what: str) -> RnnVizError:
    return RnnVizError(
        f"download failed: {what} for {url}. Try a mirror with --source URL_OR_FOLDER "
        f"(or ${BASE_URL_ENV}), or upload the data file in the app."
    )


def _open(url: str, start: int, timeout: float) -> Any:
    """Open ``url`` asking for bytes from ``start`` on; the caller checks what it got."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if start > 0:
        request.add_header("Range", f"bytes={start}-")
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and start > 0:
            return None  # the .part is not a prefix the server recognises: start over
        raise _failure(url, f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise _failure(url, f"no answer within {timeout:g} s") from None
        raise _failure(url, f"cannot reach the server ({reason})") from None
    except TimeoutError:
        raise _failure(url, f"no answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _failure(url, f"connection error ({exc})") from None


def _resumed_total(response: Any, start: int) -> int | None:
    """Total size if ``response`` continues the file at ``start`` (HTTP 206), else None."""
    if getattr(response, "status", None) != 206:
        return None
    content_range = response.headers.get("Content-Range", "")  # "bytes 100-999/1000"
    unit, _, spec = content_range.partition(" ")
    first, _, rest = spec.partition("-")
    if unit != "bytes" or not first.isdigit() or int(first) != start:
        return None
    size = rest.partition("/")[2]
    return int(size) if size.isdigit() else -1


def _fetch(url: str, part: Path, name: str, progress: Progress | None, timeout: float) -> None:
    """Stream ``url`` into ``part``, continuing an existing ``part`` when the server allows."""
    start = part.stat().st_size if part.is_file() else 0
    response = _open(url, start, timeout)
    resumed_total = _resumed_total(response, start) if response is not None and start else None
    if start and resumed_total is None and getattr(response, "status", None) == 206:
        response.close()  # a range we did not ask for: its bytes cannot extend our .part
        response = None
    if response is None:
        start = 0
        response = _open(url, 0, timeout)
    with response:
        total: int | None
        if resumed_total is not None:
            mode = "ab"
            total = resumed_total if resumed_total >= 0 else None
        else:
            # A plain 200 (or a file:// answer) is the whole file: the .part starts over.
            mode, start = "wb", 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        done = start
        if progress:
            progress(name, done, total)
        try:
            with open(part, mode) as out:
                while chunk := response.read(CHUNK_SIZE):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(name, done, total)
        except PermissionError as exc:
            raise RnnVizError(f"cannot write {part} ({exc.strerror}); choose --dest") from None
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            # Keep the .part: the next run resumes from it.
            raise _failure(
                url, f"the transfer broke off after {done} bytes ({exc}); run again to resume"
            ) from None
    if total is not None and done != total:
        raise _failure(url, f"got {done} of {total} bytes; run again to resume")


def _verify(path: Path, spec: RemoteFile, n_classes: int | None) -> str | None:
    """Why ``path`` is not a good copy of ``spec``, or None when it is."""
    if spec.sha256:
        got = sha256_file(path)
        return (
            None if got in spec.sha256 else f"sha256 is {got}, expected {' or '.join(spec.sha256)}"
        )
    try:
        if spec.name == CLASS_FILE:
            count = len(load_classes(path))
        else:
            if n_classes is None:
                return f"cannot check {spec.name} without {CLASS_FILE}"
            dataset, _ = load_dataset(
                path, classes=[str(i) for i in range(n_classes)], fmt="thucnews", strict=True
            )
            count = len(dataset)
    except RnnVizError as exc:
        return str(exc)
    return None if count == spec.lines else f"{count} lines, expected {spec.lines}"


def download_dataset(
    name: str = "thucnews",
    dest: str | os.PathLike[str] | None = None,
    *,
    base_url: str | None = None,
    progress: Progress | None = None,
    timeout: float = 30,
    expected_lines: Mapping[str, int] | None = None,
    known_sha256: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Download dataset ``name`` into ``dest/<name>/`` (``dest`` defaults to the data dir).

    Returns the dataset folder. ``progress(file, bytes_done, total_or_None)`` is called as
    bytes arrive (and once for a file already present). ``expected_lines`` and
    ``known_sha256`` override the built-in table per file name (tests use small files).
    Network failures and failed checks raise RnnVizError; a file that fails its check is removed.
    """
    if name not in DATASETS:
        raise RnnVizError(
            f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}", where="name"
        )
    base = resolve_base_url(base_url)
    folder = Path(dest if dest is not None else data_dir()) / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RnnVizError(f"cannot create {folder} ({exc.strerror}); choose --dest") from None

    specs = [
        RemoteFile(
            f.name,
            (expected_lines or {}).get(f.name, f.lines),
            tuple((known_sha256 or {}).get(f.name, f.sha256)),
        )
        for f in DATASETS[name]
    ]
    n_classes: int | None = None
    for spec in specs:
        target = folder / spec.name
        url = urllib.parse.urljoin(base, urllib.parse.quote(spec.name))
        if target.is_file() and _verify(target, spec, n_classes) is None:
            if progress:
                size = target.stat().st_size
                progress(spec.name, size, size)
        else:
            # A stale or damaged copy stays until a verified one replaces it (os.replace).
            part = folder / (spec.name + ".part")
            _fetch(url, part, spec.name, progress, timeout)
            problem = _verify(part, spec, n_classes)
            if problem is not None:
                part.unlink(missing_ok=True)
                raise RnnVizError(
                    f"{spec.name} from {url} failed its check ({problem}); removed it"
                )
            os.replace(part, target)
        if spec.name == CLASS_FILE:
            n_classes = len(load_classes(target))
    try:
        write_checksums(folder, [spec.name for spec in specs])
    except OSError as exc:
        raise RnnVizError(f"cannot write checksums in {folder} ({exc.strerror})") from None
    return folder


class TqdmProgress:
    """A ``progress`` callback drawing one tqdm bar per file (for the CLI)."""

    def __init__(self, **tqdm_kwargs: Any) -> None:
        self._bars: dict[str, Any] = {}
        self._kwargs = tqdm_kwargs

    def __call__(self, name: str, done: int, total: int | None) -> None:
        from tqdm import tqdm  # deferred: only the CLI draws bars

        bar = self._bars.get(name)
        if bar is None or done < bar.n:  # a new file, or a restart from zero
            if bar is not None:
                bar.close()
            bar = tqdm(
                total=total,
                initial=done,
                desc=name,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                **self._kwargs,
            )
            self._bars[name] = bar
        else:
            bar.update(done - bar.n)
        if total is not None and done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


def tqdm_progress(**tqdm_kwargs: Any) -> TqdmProgress:
    """A progress callback for ``download_dataset`` that draws tqdm bars."""
    return TqdmProgress(**tqdm_kwargs)
