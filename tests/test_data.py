"""Dataset readers: both formats, every problem kind with its line, encodings, the shared data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from helpers import missing

from rnnviz.core.checksums import read_checksums, verify_checksums, write_checksums
from rnnviz.core.classes import CLASS_NAMES_ZH, THUCNEWS_CLASSES, display_class
from rnnviz.core.data import (
    Dataset,
    detect_format,
    find_thucnews,
    load_classes,
    load_dataset,
    load_dataset_bytes,
    load_split,
    thucnews_folder,
)
from rnnviz.errors import RnnVizError

CLASSES = ["finance", "realty", "sports"]


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


@pytest.fixture
def thuc_folder(tmp_path: Path) -> Path:
    # class.txt without a trailing newline, as in the public copy.
    write(tmp_path, "class.txt", "\n".join(CLASSES))
    return tmp_path


@pytest.fixture
def cnews_file(shared_data: Path) -> Path:
    path = shared_data / "cnews-sample" / "cnews.sample.txt"
    if not path.is_file():
        missing(f"cnews sample not found at {path}")
    return path


# ---- THUCNews format -----------------------------------------------------------------------


def test_thucnews_reads_texts_labels_and_class_file_beside(thuc_folder: Path) -> None:
    path = write(thuc_folder, "train.txt", "股市大涨\t0\n北京新楼盘\t1\n湖人夺冠\t2\n")
    ds, report = load_dataset(path)
    assert ds.texts == ["股市大涨", "北京新楼盘", "湖人夺冠"]
    assert ds.labels == [0, 1, 2]
    assert ds.classes == CLASSES
    assert ds.source == str(path)
    assert len(ds) == 3
    assert report.ok and report.fmt == "thucnews"
    assert (report.lines_read, report.lines_kept) == (3, 3)


def test_thucnews_keeps_replacement_char_and_handles_crlf_bom_blank_lines(
    thuc_folder: Path,
) -> None:
    content = "\ufeff中\ufffd国队\t2\r\n\r\n\n房价\t1\r\n"
    ds, report = load_dataset(write(thuc_folder, "t.txt", content.encode("utf-8")))
    assert ds.texts == ["中\ufffd国队", "房价"]
    assert ds.labels == [2, 1]
    assert report.ok and report.lines_read == 2


def test_class_list_and_class_file_path_override_the_file_beside(tmp_path: Path) -> None:
    other = write(tmp_path, "names.txt", "a\nb\n\n")
    path = write(tmp_path, "t.txt", "x\t1\n")
    assert load_dataset(path, classes=other)[0].classes == ["a", "b"]
    assert load_dataset(path, classes=["p", "q", "r"])[0].classes == ["p", "q", "r"]


def test_missing_class_file_names_it(tmp_path: Path) -> None:
    path = write(tmp_path, "train.txt", "股市\t0\n")
    with pytest.raises(RnnVizError, match="missing class file") as err:
        load_dataset(path)
    assert str(tmp_path / "class.txt") in str(err.value)


def test_class_file_with_duplicate_names_points_at_the_line(tmp_path: Path) -> None:
    write(tmp_path, "class.txt", "a\nb\na\n")
    with pytest.raises(RnnVizError, match="duplicate") as err:
        load_classes(tmp_path / "class.txt")
    assert err.value.where == f"{tmp_path / 'class.txt'}:3"


# ---- every problem kind, with its line, lenient and strict ---------------------------------

GOOD = "好标题\t0\n"
# (bad line, fragment of the message, format); the bad line is always physical line 3.
THUC_BAD = [
    ("只有一列\n", "expected 2 tab-separated columns", "thucnews"),
    ("三\t列\t0\n", "found 3", "thucnews"),
    ("标题\txyz\n", "label 'xyz' is not an integer", "thucnews"),
    ("标题\t3\n", "unknown label: id 3 is out of range 0..2", "thucnews"),
    ("标题\t-1\n", "unknown label: id -1", "thucnews"),
    ("  \t1\n", "empty text", "thucnews"),
    ("标题\t\n", "empty label", "thucnews"),
]


@pytest.mark.parametrize(("bad", "message", "fmt"), THUC_BAD)
def test_lenient_skips_the_bad_line_and_reports_its_number(
    thuc_folder: Path, bad: str, message: str, fmt: str
) -> None:
    path = write(thuc_folder, "t.txt", GOOD + GOOD + bad + GOOD)
    ds, report = load_dataset(path, fmt=fmt)
    assert len(ds) == 3
    assert report.issues_total == 1 and not report.ok
    issue = report.issues[0]
    assert (issue.file, issue.line) == (str(path), 3)
    assert message in issue.message
    assert issue.describe("en").startswith("line 3: ")
    assert issue.describe("zh").startswith("第 3 行：")


@pytest.mark.parametrize(("bad", "message", "fmt"), THUC_BAD)
def test_strict_raises_with_file_and_line(
    thuc_folder: Path, bad: str, message: str, fmt: str
) -> None:
    path = write(thuc_folder, "t.txt", GOOD + GOOD + bad + GOOD)
    with pytest.raises(RnnVizError, match=message) as err:
        load_dataset(path, fmt=fmt, strict=True)
    assert err.value.where == f"{path}:3"


def test_cnews_unknown_label_against_a_given_class_list(tmp_path: Path) -> None:
    path = write(tmp_path, "c.txt", "体育\t比赛\n财经\t股票\n汽车\t新车\n")
    ds, report = load_dataset(path, classes=["体育", "财经"])
    assert ds.labels == [0, 1]
    assert [(i.line, i.message) for i in report.issues] == [(3, "unknown label '汽车'")]
    with pytest.raises(RnnVizError, match="unknown label '汽车'") as err:
        load_dataset(path, classes=["体育", "财经"], strict=True)
    assert err.value.where == f"{path}:3"


def test_bad_bytes_mid_file_cost_one_line(thuc_folder: Path) -> None:
    data = GOOD.encode() * 4 + b"\xff\xfe\xfa broken\t1\n" + GOOD.encode()
    path = write(thuc_folder, "t.txt", data)
    ds, report = load_dataset(path)
    assert len(ds) == 5
    assert [i.line for i in report.issues] == [5]
    assert "not valid UTF-8: byte 0xff at offset 0" in report.issues[0].message
    with pytest.raises(RnnVizError, match="not valid UTF-8") as err:
        load_dataset(path, strict=True)
    assert err.value.where == f"{path}:5"


def test_one_gbk_line_in_utf8_file_is_reported_with_a_hint(thuc_folder: Path) -> None:
    data = GOOD.encode() * 3 + "北京新楼盘\t1\n".encode("gbk")
    ds, report = load_dataset(write(thuc_folder, "t.txt", data))
    assert len(ds) == 3
    assert report.issues[0].line == 4
    assert "looks like GBK" in report.issues[0].message


def test_gbk_file_is_refused_as_not_utf8(thuc_folder: Path) -> None:
    data = "股市大涨\t0\n北京新楼盘\t1\n湖人夺冠\t2\n".encode("gbk")
    with pytest.raises(RnnVizError, match="not UTF-8.*GBK"):
        load_dataset(write(thuc_folder, "t.txt", data))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_file_is_refused_as_not_utf8(thuc_folder: Path, encoding: str) -> None:
    # All-Chinese titles: only the tab, digit and newline units carry NUL bytes.
    data = "中华女子学院本科层次仅一专业招男生\t0\n两天价网站背后重重迷雾\t1\n".encode(encoding)
    with pytest.raises(RnnVizError, match="not UTF-8.*UTF-16"):
        load_dataset(write(thuc_folder, "t.txt", data), fmt="thucnews")


@pytest.mark.parametrize("content", ["", "\n\n  \r\n"])
def test_empty_file_raises(thuc_folder: Path, content: str) -> None:
    with pytest.raises(RnnVizError, match="empty"):
        load_dataset(write(thuc_folder, "t.txt", content), fmt="thucnews")


def test_file_with_no_valid_line_raises_naming_the_first_problem(thuc_folder: Path) -> None:
    path = write(thuc_folder, "t.txt", "\na\t9\nb\t8\n")
    with pytest.raises(RnnVizError, match=r"no valid lines \(2 problems; first: line 2: ") as err:
        load_dataset(path)
    assert err.value.where == str(path)


def test_issue_list_is_capped_but_counted(thuc_folder: Path) -> None:
    path = write(thuc_folder, "t.txt", GOOD + "x\t7\n" * 10)
    ds, report = load_dataset(path, max_issues=3)
    assert len(ds) == 1
    assert [i.line for i in report.issues] == [2, 3, 4]
    assert report.issues_total == 10 and report.truncated
    assert "skipped 10" in report.summary("en") and "跳过 10 行" in report.summary("zh")


def test_missing_data_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(RnnVizError, match="file not found"):
        load_dataset(tmp_path / "nope.txt")
    with pytest.raises(RnnVizError, match="unknown format"):
        load_dataset(write(tmp_path, "t.txt", GOOD), classes=CLASSES, fmt="csv")


# ---- cnews format and format detection -----------------------------------------------------


def test_cnews_classes_are_sorted_names_seen(tmp_path: Path) -> None:
    path = write(tmp_path, "c.txt", "科技\t新手机发布\n体育\t湖人夺冠\n科技\t芯片\n")
    ds, report = load_dataset(path)
    assert report.fmt == "cnews"
    assert ds.classes == sorted(["科技", "体育"])
    assert [ds.classes[y] for y in ds.labels] == ["科技", "体育", "科技"]
    assert ds.texts == ["新手机发布", "湖人夺冠", "芯片"]


def test_cnews_given_class_list_fixes_the_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "c.txt", "科技\t新手机发布\n体育\t湖人夺冠\n")
    ds, _ = load_dataset(path, classes=["体育", "财经", "科技"])
    assert ds.labels == [2, 0]
    assert ds.classes == ["体育", "财经", "科技"]


def test_detect_format(tmp_path: Path) -> None:
    assert detect_format(write(tmp_path, "a.txt", "\n标题一\t3\n标题二\t0\n")) == "thucnews"
    assert detect_format(write(tmp_path, "b.txt", "体育\t湖人夺冠\n财经\t股市\n")) == "cnews"
    assert detect_format("体育\t湖人夺冠\n".encode()) == "cnews"
    with pytest.raises(RnnVizError, match="cannot tell the format"):
        detect_format(write(tmp_path, "c.txt", "no tabs here\nnone here\n"))
    with pytest.raises(RnnVizError, match="empty"):
        detect_format(b"")


# ---- uploaded bytes ------------------------------------------------------------------------


def test_bytes_loading_with_class_list_or_class_file_bytes() -> None:
    data = "股市大涨\t0\n湖人夺冠\t2\n".encode()
    ds, report = load_dataset_bytes(data, "upload.txt", classes=CLASSES)
    assert ds.labels == [0, 2] and ds.source == "upload.txt" and report.ok
    ds2, _ = load_dataset_bytes(data, "upload.txt", classes="\n".join(CLASSES).encode())
    assert ds2.classes == CLASSES
    with pytest.raises(RnnVizError, match="needs its class names"):
        load_dataset_bytes(data, "upload.txt")
    cnews, _ = load_dataset_bytes("体育\t湖人夺冠\n".encode(), "c.txt")
    assert cnews.classes == ["体育"]


def test_bytes_problems_name_the_upload_and_line() -> None:
    with pytest.raises(RnnVizError) as err:
        load_dataset_bytes(b"ok\t0\nbad\t5\n", "upload.txt", classes=CLASSES, strict=True)
    assert err.value.where == "upload.txt:2"


def test_oversize_bytes_refused_before_decoding() -> None:
    # UTF-16 would be refused as "not UTF-8" if it were decoded: the size check comes first.
    data = ("股市大涨\t0\n" * 100).encode("utf-16")
    with pytest.raises(RnnVizError, match="file too large") as err:
        load_dataset_bytes(data, "big.txt", classes=CLASSES, max_bytes=len(data) - 1)
    assert err.value.where == "big.txt"
    with pytest.raises(RnnVizError, match="not UTF-8"):
        load_dataset_bytes(data, "big.txt", classes=CLASSES, max_bytes=len(data))


# ---- Dataset and display -------------------------------------------------------------------


def test_dataset_subset_take_and_counts() -> None:
    ds = Dataset(["a", "b", "c", "d"], [0, 2, 2, 1], CLASSES, "mem")
    assert ds.subset(2).texts == ["a", "b"]
    assert len(ds.subset(10)) == 4
    taken = ds.take([3, 0])
    assert (taken.texts, taken.labels, taken.classes) == (["d", "a"], [1, 0], CLASSES)
    assert ds.class_counts() == [1, 1, 2]
    with pytest.raises(RnnVizError):
        Dataset(["a"], [0, 1], CLASSES, "mem")
    with pytest.raises(RnnVizError):
        Dataset(["a"], [3], CLASSES, "mem")


def test_display_class_both_ways() -> None:
    assert display_class("sports", "zh") == "体育"
    assert display_class("sports", "en") == "sports"
    assert display_class("体育", "en") == "sports"
    assert display_class("家居", "en") == "home"
    assert display_class("体育", "zh") == "体育"
    assert display_class("unknown", "zh") == "unknown"
    assert set(CLASS_NAMES_ZH) == set(THUCNEWS_CLASSES)


# ---- checksums -----------------------------------------------------------------------------


def test_verify_checksums_flags_changed_and_missing_files(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", "alpha")
    write(tmp_path, "b.txt", "beta")
    digest = hashlib.sha256(b"alpha").hexdigest()
    write(
        tmp_path,
        "SHA256SUMS",
        f"{digest}  a.txt\n{hashlib.sha256(b'BETA').hexdigest()} *b.txt\n{digest}  gone.txt\n",
    )
    assert verify_checksums(tmp_path) == {"a.txt": True, "b.txt": False, "gone.txt": False}
    a.write_text("alpha!")
    assert verify_checksums(tmp_path)["a.txt"] is False


def test_write_checksums_round_trips(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "alpha")
    write_checksums(tmp_path, ["a.txt"])
    assert read_checksums(tmp_path / "SHA256SUMS") == {
        "a.txt": hashlib.sha256(b"alpha").hexdigest()
    }
    assert verify_checksums(tmp_path) == {"a.txt": True}


def test_checksums_absent_or_malformed(tmp_path: Path) -> None:
    assert verify_checksums(tmp_path) == {}
    write(tmp_path, "SHA256SUMS", f"{'0' * 64}  ok.txt\nnot a checksum line\n")
    with pytest.raises(RnnVizError) as err:
        verify_checksums(tmp_path)
    assert err.value.where == f"{tmp_path / 'SHA256SUMS'}:2"
    write(tmp_path, "SHA256SUMS", f"{'0' * 64}  ../etc/passwd\n")
    with pytest.raises(RnnVizError, match="leaves the folder"):
        verify_checksums(tmp_path)


# ---- the shared data -----------------------------------------------------------------------


def test_shared_thucnews_train_and_dev(shared_data: Path, thucnews_dir: Path) -> None:
    train, report = load_split(thucnews_dir, "train", strict=True)
    assert len(train) == 45_000 and report.ok
    assert train.classes == list(THUCNEWS_CLASSES)
    assert any("\ufffd" in t for t in train.texts)  # lost characters stay as U+FFFD
    dev, _ = load_split(shared_data, "dev")  # the data root works too
    assert len(dev) == 10_000
    assert dev.class_counts() == [1_000] * 10


def test_shared_cnews_sample(cnews_file: Path) -> None:
    ds, report = load_dataset(cnews_file, strict=True)
    assert report.fmt == "cnews" and len(ds) == 1_000
    assert set(ds.classes) == {
        "体育",
        "娱乐",
        "家居",
        "房产",
        "教育",
        "时尚",
        "时政",
        "游戏",
        "科技",
        "财经",
    }
    assert ds.classes == sorted(ds.classes)
    assert max(len(t) for t in ds.texts) > 9_000


def test_shared_checksums_verify(thucnews_dir: Path, cnews_file: Path) -> None:
    assert verify_checksums(thucnews_dir) == {"train.txt": True, "dev.txt": True, "class.txt": True}
    assert verify_checksums(cnews_file.parent) == {"cnews.sample.txt": True}


def test_missing_split_suggests_download(tmp_path: Path) -> None:
    with pytest.raises(RnnVizError, match="rnnviz download thucnews"):
        load_split(tmp_path, "train")
    with pytest.raises(RnnVizError, match="unknown split"):
        load_split(tmp_path, "valid")


def test_a_thucnews_folder_is_found_in_itself_or_under_the_data_root(tmp_path: Path) -> None:
    nested = tmp_path / "root" / "thucnews"
    nested.mkdir(parents=True)
    write(nested, "class.txt", "\n".join(CLASSES))
    write(nested, "train.txt", "股市\t0\n")
    root = nested.parent
    assert thucnews_folder(root, "train.txt") == thucnews_folder(nested, "train.txt") == nested
    assert thucnews_folder(root, "dev.txt") is None
    assert find_thucnews([tmp_path / "absent", root]) == nested
    assert load_split(root, "train")[0].texts == ["股市"]
    write(root, "train.txt", "球赛\t2\n")  # a data root that is itself a folder with train.txt,
    assert thucnews_folder(root, "train.txt") == root  # checked first
    assert find_thucnews([root]) == nested  # but only a folder with class.txt is a THUCNews one
    with pytest.raises(RnnVizError, match=r"no dev split at .*dev\.txt"):
        load_split(root, "dev")


def test_find_thucnews_looks_in_the_data_dir_then_the_download_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("RNNVIZ_DATA_DIR", str(tmp_path / "data"))
    assert find_thucnews() is None
    folder = tmp_path / "data" / "thucnews"
    folder.mkdir(parents=True)
    write(folder, "class.txt", "\n".join(CLASSES))
    write(folder, "train.txt", "股市\t0\n")
    assert find_thucnews() == folder
