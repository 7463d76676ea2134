"""download_dataset against a local HTTP server (with Range support) and file:// — no internet."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest

from rnnviz.core.checksums import verify_checksums
from rnnviz.core.classes import CLASS_NAMES_ZH, THUCNEWS_CLASSES, display_class
from rnnviz.core.data import load_split
from rnnviz.core.download import (
    BASE_URL_ENV,
    DATASETS,
    DEFAULT_BASE_URL,
    download_dataset,
    resolve_base_url,
    tqdm_progress,
)
from rnnviz.errors import RnnVizError

FILES = ("class.txt", "train.txt", "dev.txt", "test.txt")
LINES = {"train.txt": 300, "dev.txt": 40, "test.txt": 40}


def make_source(folder: Path) -> Path:
    """A small THUCNews folder; class.txt is byte-identical to the public one (no newline)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "class.txt").write_text("\n".join(THUCNEWS_CLASSES), encoding="utf-8")
    for name, n in LINES.items():
        lines = [f"{name[:-4]}新闻标题第{i}号\ufffd\t{i % 10}\n" for i in range(n)]
        (folder / name).write_text("".join(lines), encoding="utf-8")
    return folder


class FakeServer:
    """Serves ``root`` over HTTP; records each request's path and Range header."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.honour_range = True
        self.cut_after: dict[str, int] = {}  # file -> bytes sent before dropping the connection
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = unquote(self.path.lstrip("/"))
                range_header = self.headers.get("Range")
                server.requests.append((name, range_header))
                path = server.root / name
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                start = 0
                if range_header and server.honour_range:
                    start = int(range_header.removeprefix("bytes=").rstrip("-"))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if name in server.cut_after:
                    body = body[: server.cut_after[name]]
                    self.close_connection = True
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        # A short poll interval: shutdown() waits for one poll, 0.5 s by default.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_source(tmp_path / "src")


@pytest.fixture
def server(source: Path) -> Iterator[FakeServer]:
    srv = FakeServer(source)
    yield srv
    srv.close()


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "dest"


def fetch(dest: Path, base_url: str, **kwargs: object) -> Path:
    return download_dataset("thucnews", dest, base_url=base_url, expected_lines=LINES, **kwargs)


def test_known_hashes_are_the_public_class_files() -> None:
    known = {f.name: f.sha256 for f in DATASETS["thucnews"]}
    english = "\n".join(THUCNEWS_CLASSES)
    chinese = "\n".join(CLASS_NAMES_ZH[c] for c in THUCNEWS_CLASSES)
    assert known["class.txt"] == tuple(
        hashlib.sha256(t.encode()).hexdigest() for t in (english, chinese)
    )
    assert [known[n] for n in ("train.txt", "dev.txt", "test.txt")] == [(), (), ()]


def test_chinese_class_file_is_accepted(server: FakeServer, source: Path, dest: Path) -> None:
    chinese = "\n".join(CLASS_NAMES_ZH[c] for c in THUCNEWS_CLASSES)
    (source / "class.txt").write_text(chinese, encoding="utf-8")
    folder = fetch(dest, server.url)
    dev, _ = load_split(folder, "dev")
    assert dev.classes[0] == "财经" and display_class(dev.classes[0], "en") == "finance"


def test_download_fetches_verifies_and_writes_checksums(
    server: FakeServer, source: Path, dest: Path
) -> None:
    calls: list[tuple[str, int, int | None]] = []
    folder = fetch(dest, server.url, progress=lambda *c: calls.append(c))
    assert folder == dest / "thucnews"
    for name in FILES:
        assert (folder / name).read_bytes() == (source / name).read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == sorted([*FILES, "SHA256SUMS"])
    assert verify_checksums(folder) == dict.fromkeys(FILES, True)
    assert [name for name, _ in server.requests] == list(FILES)  # class.txt first
    # Progress: per file, bytes only grow and end at the full size with a known total.
    for name in FILES:
        size = (source / name).stat().st_size
        mine = [(done, total) for n, done, total in calls if n == name]
        assert mine[0] == (0, size) and mine[-1] == (size, size)
        assert [d for d, _ in mine] == sorted(d for d, _ in mine)
    train, _ = load_split(folder, "train")
    assert len(train) == LINES["train.txt"]


def test_second_run_is_a_cache_hit(server: FakeServer, dest: Path) -> None:
    fetch(dest, server.url)
    server.requests.clear()
    calls: list[tuple[str, int, int | None]] = []
    fetch(dest, server.url, progress=lambda *c: calls.append(c))
    assert server.requests == []
    assert [c[0] for c in calls] == list(FILES)
    assert all(done == total for _, done, total in calls)


def test_truncated_part_resumes_with_a_range_request(
    server: FakeServer, source: Path, dest: Path
) -> None:
    folder = dest / "thucnews"
    folder.mkdir(parents=True)
    full = (source / "train.txt").read_bytes()
    half = len(full) // 2 + 1  # mid-character on purpose: bytes, not text, are resumed
    (folder / "train.txt.part").write_bytes(full[:half])
    calls: list[tuple[str, int, int | None]] = []
    fetch(dest, server.url, progress=lambda *c: calls.append(c))
    assert ("train.txt", f"bytes={half}-") in server.requests
    assert (folder / "train.txt").read_bytes() == full
    assert not (folder / "train.txt.part").exists()
    assert [c for c in calls if c[0] == "train.txt"][0] == ("train.txt", half, len(full))


def test_broken_transfer_keeps_part_and_next_run_resumes(
    server: FakeServer, source: Path, dest: Path
) -> None:
    server.cut_after["train.txt"] = 1000
    with pytest.raises(RnnVizError, match="run again to resume") as err:
        fetch(dest, server.url)
    assert f"{server.url}train.txt" in str(err.value)
    part = dest / "thucnews" / "train.txt.part"
    assert part.stat().st_size == 1000
    assert not (dest / "thucnews" / "train.txt").exists()
    server.cut_after.clear()
    fetch(dest, server.url)
    assert ("train.txt", "bytes=1000-") in server.requests
    assert (dest / "thucnews" / "train.txt").read_bytes() == (source / "train.txt").read_bytes()


def test_server_without_range_support_restarts_cleanly(
    server: FakeServer, source: Path, dest: Path
) -> None:
    server.honour_range = False
    folder = dest / "thucnews"
    folder.mkdir(parents=True)
    (folder / "dev.txt.part").write_bytes(b"garbage that is not a prefix")
    fetch(dest, server.url)
    assert ("dev.txt", "bytes=28-") in server.requests  # asked, got a 200, started over
    assert (folder / "dev.txt").read_bytes() == (source / "dev.txt").read_bytes()


def test_part_longer_than_the_file_starts_over_after_416(
    server: FakeServer, source: Path, dest: Path
) -> None:
    folder = dest / "thucnews"
    folder.mkdir(parents=True)
    (folder / "dev.txt.part").write_bytes(b"x" * 100_000)
    fetch(dest, server.url)
    assert [r for r in server.requests if r[0] == "dev.txt"] == [
        ("dev.txt", "bytes=100000-"),
        ("dev.txt", None),
    ]
    assert (folder / "dev.txt").read_bytes() == (source / "dev.txt").read_bytes()


@pytest.mark.parametrize(
    ("name", "damage", "reason"),
    [
        ("train.txt", lambda t: t.replace("\t7\n", "\t12\n", 1), "out of range"),
        ("dev.txt", lambda t: t.split("\n", 1)[1], "39 lines, expected 40"),
        ("test.txt", lambda t: t.replace("\t", " ", 1), "expected 2 tab-separated columns"),
        ("class.txt", lambda t: t + "\n", "sha256"),
    ],
)
def test_corrupted_file_is_rejected_and_removed(
    server: FakeServer, source: Path, dest: Path, name: str, damage, reason: str
) -> None:
    path = source / name
    path.write_text(damage(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(RnnVizError, match=reason) as err:
        fetch(dest, server.url)
    assert "failed its check" in str(err.value) and f"{server.url}{name}" in str(err.value)
    assert not (dest / "thucnews" / name).exists()
    assert not (dest / "thucnews" / f"{name}.part").exists()


def test_damaged_local_copy_is_downloaded_again(
    server: FakeServer, source: Path, dest: Path
) -> None:
    fetch(dest, server.url)
    (dest / "thucnews" / "dev.txt").write_text("标题\t0\n", encoding="utf-8")
    server.requests.clear()
    fetch(dest, server.url)
    assert [name for name, _ in server.requests] == ["dev.txt"]
    assert (dest / "thucnews" / "dev.txt").read_bytes() == (source / "dev.txt").read_bytes()


def test_server_down_names_the_url(dest: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The port is closed now: connecting is refused.
    with pytest.raises(RnnVizError, match="--source") as err:
        fetch(dest, f"http://127.0.0.1:{port}/mirror/")
    assert f"http://127.0.0.1:{port}/mirror/class.txt" in str(err.value)


def test_http_error_names_status_and_url(server: FakeServer, source: Path, dest: Path) -> None:
    (source / "test.txt").unlink()
    with pytest.raises(RnnVizError, match="HTTP 404") as err:
        fetch(dest, server.url)
    assert f"{server.url}test.txt" in str(err.value)
    assert (dest / "thucnews" / "dev.txt").is_file()  # what arrived before stays cached


def test_silent_server_times_out(dest: Path) -> None:
    with socket.socket() as sock:  # accepts connections (backlog) but never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        with pytest.raises(RnnVizError, match="no answer within 0.3 s") as err:
            fetch(dest, url, timeout=0.3)
    assert f"{url}class.txt" in str(err.value)


def test_file_url_and_plain_folder_sources(source: Path, dest: Path) -> None:
    folder = fetch(dest / "a", source.as_uri())
    assert (folder / "train.txt").read_bytes() == (source / "train.txt").read_bytes()
    folder = fetch(dest / "b", str(source))
    assert verify_checksums(folder) == dict.fromkeys(FILES, True)


def test_env_var_picks_the_mirror(
    server: FakeServer, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BASE_URL_ENV, server.url.rstrip("/"))
    assert resolve_base_url() == server.url
    download_dataset("thucnews", dest, expected_lines=LINES)
    assert len(server.requests) == len(FILES)
    monkeypatch.delenv(BASE_URL_ENV)
    assert resolve_base_url() == DEFAULT_BASE_URL


def test_bad_source_and_unknown_dataset(tmp_path: Path) -> None:
    with pytest.raises(RnnVizError, match="neither a URL"):
        resolve_base_url(str(tmp_path / "no-such-folder"))
    with pytest.raises(RnnVizError, match="unknown dataset 'mnist'"):
        download_dataset("mnist", tmp_path)


def test_tqdm_progress_draws_one_bar_per_file(source: Path, dest: Path) -> None:
    pytest.importorskip("tqdm")
    out = io.StringIO()
    progress = tqdm_progress(file=out)
    fetch(dest, source.as_uri(), progress=progress)
    progress.close()
    text = out.getvalue()
    for name in FILES:
        assert name in text
    assert "100%" in text
