"""The command line end to end: one short training run through ``python -m rnnviz train``
(shared by the module), then evaluate, predict, reload, bad input, Ctrl-C and download.

Subprocesses check what a user sees (exit status, one ``error:`` line, no traceback); the
quicker checks call ``rnnviz.cli.main`` in-process.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import signal
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnviz.cli import MODEL_OPTIONS, TRAIN_OPTIONS, main
from rnnviz.core.checkpoint import load_checkpoint
from rnnviz.core.classes import THUCNEWS_CLASSES
from rnnviz.core.models import ModelConfig
from rnnviz.core.predict import Predictor
from rnnviz.core.train import TrainConfig
from rnnviz.paths import DATA_DIR_ENV

ROOT = Path(__file__).resolve().parent.parent
TEXT = "湖人队主场击败火箭队，詹姆斯砍下三十分"
# A small, quick model: ~300 steps on 3,000 titles reach ~55 % dev accuracy (chance: 10 %).
QUICK = ["--cell", "gru", "--embed", "32", "--hidden", "32", "--layers", "1", "--batch-size", "32",
         "--lr", "5e-3", "--warmup-steps", "20", "--threads", "1"]


pytestmark = pytest.mark.usefixtures("one_torch_thread_per_test")
Trained = tuple[Path, subprocess.CompletedProcess[str]]  # the checkpoint and how train ran


def cli(*args: object, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "rnnviz", *map(str, args)], cwd=ROOT, env=env,
        capture_output=True, text=True, encoding="utf-8", timeout=timeout,
    )


def assert_one_line_error(status: int, stderr: str, *words: str) -> str:
    assert status == 2, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


def run_main(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def trained(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    out = tmp_path_factory.mktemp("cli") / "model.safetensors"
    # --data-dir is the data root here (it holds thucnews/); other tests pass the folder itself.
    proc = cli("train", "--model", "textrnn", "--data-dir", shared_data, "--train-limit", 3000,
               "--dev-limit", 1000, "--max-steps", 300, "--eval-every", 100, *QUICK, "--out", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out, proc


def test_train_prints_the_dev_report_and_saves(trained: Trained) -> None:
    path, proc = trained
    assert path.is_file()
    assert "Confusion Matrix..." in proc.stdout and "体育" in proc.stdout
    assert f"saved checkpoint {path}" in proc.stdout
    assert "step 300/300" in proc.stderr and "training ended" in proc.stderr
    checkpoint = load_checkpoint(path)
    config = checkpoint.config
    shape = (config.model, config.cell, config.hidden_size, config.num_layers)
    assert shape == ("textrnn", "gru", 32, 1)
    assert checkpoint.classes == list(THUCNEWS_CLASSES)
    assert checkpoint.train_config["max_steps"] == 300
    assert checkpoint.info["train_examples"] == 3000 and checkpoint.info["dev_examples"] == 1000
    assert [h["step"] for h in checkpoint.history] == [100, 200, 300]


def test_evaluate_json_on_dev(trained: Trained, thucnews_dir: Path) -> None:
    path, _ = trained
    proc = cli("evaluate", "--checkpoint", path, "--data", thucnews_dir / "dev.txt", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert {"accuracy", "loss", "n", "per_class", "confusion_matrix", "classes"} <= set(report)
    cm = np.array(report["confusion_matrix"])
    assert report["n"] == cm.sum() == 10_000
    assert report["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    assert report["accuracy"] > 0.3  # chance is 0.1
    assert report["classes"] == list(THUCNEWS_CLASSES)
    assert [report["per_class"][c]["support"] for c in THUCNEWS_CLASSES] == cm.sum(1).tolist()
    assert 0 < report["loss"] < 5


def test_evaluate_agrees_with_the_training_report(
    trained: Trained, thucnews_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The dev slice training scored, evaluated again (its class.txt given with --classes)."""
    path, _ = trained
    lines = (thucnews_dir / "dev.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    data = tmp_path / "dev-slice.txt"
    data.write_text("".join(lines[:1000]), encoding="utf-8")
    status, out, err = run_main(capsys, "evaluate", "--checkpoint", path, "--data", data,
                                "--classes", thucnews_dir / "class.txt", "--json")
    assert status == 0, err
    metrics = load_checkpoint(path).metrics
    assert metrics is not None
    report = json.loads(out)
    assert report["n"] == metrics["n"] == 1000
    assert report["confusion_matrix"] == metrics["confusion_matrix"]
    assert report["loss"] == pytest.approx(metrics["loss"], rel=1e-4)

    status, out, err = run_main(capsys, "evaluate", "--checkpoint", path, "--data", data,
                                "--lang", "en")
    assert status == 0 and "no class.txt beside" in err  # falls back to the model's classes
    assert "Confusion Matrix..." in out and "sports" in out


def test_evaluate_reads_cnews_format(
    trained: Trained, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, _ = trained
    data = tmp_path / "named.txt"
    data.write_text(f"sports\t{TEXT}\nfinance\t央行宣布降准0.5个百分点\n", encoding="utf-8")
    status, out, err = run_main(capsys, "evaluate", "--checkpoint", path, "--data", data, "--json")
    assert status == 0, err
    report = json.loads(out)
    assert report["n"] == 2 and report["classes"] == list(THUCNEWS_CLASSES)
    assert report["per_class"]["sports"]["support"] == 1
    assert report["per_class"]["finance"]["support"] == 1


def test_predict_json_and_reloaded_checkpoint_agree(trained: Trained) -> None:
    path, _ = trained
    proc = cli("predict", "--checkpoint", path, "--json", TEXT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert {"label", "probabilities", "tokens", "trace"} <= set(result)
    probs = result["probabilities"]
    assert list(probs) == list(THUCNEWS_CLASSES)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-3)  # rounded to 5 digits each
    assert result["label"] == max(probs, key=probs.__getitem__)
    tokens = result["tokens"]
    assert "".join(tokens) == TEXT.replace("，", ",")  # NFKC folds the full-width comma
    assert len(result["trace"]) == 2  # one layer, two directions
    for entry in result["trace"]:
        assert len(entry["hidden_norm"]) == len(tokens)
        assert all(len(rows) == len(tokens) for rows in entry["gates"].values())

    # The same file loaded in-process gives the same answer.
    again = Predictor(load_checkpoint(path)).predict(TEXT, with_trace=False)
    assert again.label == result["label"]
    assert list(again.probabilities.values()) == pytest.approx(list(probs.values()), abs=1e-4)


def test_predict_summary(trained: Trained, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = trained
    status, out, _ = run_main(capsys, "predict", "--checkpoint", path, "湖人队", "主场获胜")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("label: ")
    shares = [float(line.split("%")[0]) for line in lines[1:4]]
    assert shares == sorted(shares, reverse=True) and len(shares) == 3
    assert lines[4] == "tokens (7): 湖 人 队 主 场 获 胜"  # the two words joined

    long_text = "体育" * 400  # 800 tokens > max_len 512
    status, out, _ = run_main(capsys, "predict", "--checkpoint", path, long_text)
    assert status == 0 and "cut to its first 512 tokens (of 800)" in out


def test_empty_text_is_one_line_error(
    trained: Trained, capsys: pytest.CaptureFixture[str],
) -> None:
    path, _ = trained
    proc = cli("predict", "--checkpoint", path, "")
    assert_one_line_error(proc.returncode, proc.stderr, "empty")
    assert proc.stdout == ""
    status, out, err = run_main(capsys, "predict", "--checkpoint", path, "  \t \u200b")
    assert_one_line_error(status, err, "empty")
    assert out == ""


def test_bad_checkpoints_exit_2(
    trained: Trained, thucnews_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "nope.safetensors"
    status, _, err = run_main(capsys, "predict", "--checkpoint", missing, "text")
    assert_one_line_error(status, err, "nope.safetensors")

    pickled = tmp_path / "model.pt"
    pickled.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    status, _, err = run_main(capsys, "evaluate", "--checkpoint", pickled, "--data",
                              thucnews_dir / "dev.txt")
    assert_one_line_error(status, err, "pickle")

    status, _, err = run_main(capsys, "predict", "--checkpoint", thucnews_dir / "class.txt", "t")
    assert_one_line_error(status, err, "not a checkpoint")


def test_bad_data_files_exit_2(
    trained: Trained, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, _ = trained
    (tmp_path / "class.txt").write_text("\n".join(THUCNEWS_CLASSES), encoding="utf-8")
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{TEXT}\t7\n央行降准\t12\n", encoding="utf-8")
    status, _, err = run_main(capsys, "evaluate", "--checkpoint", path, "--data", ids)
    assert_one_line_error(status, err, "ids.txt:2", "12")

    names = tmp_path / "names.txt"
    names.write_text(f"sports\t{TEXT}\n足球\t国足不敌对手\n", encoding="utf-8")
    status, _, err = run_main(capsys, "evaluate", "--checkpoint", path, "--data", names)
    assert_one_line_error(status, err, "names.txt:2", "足球")

    other = tmp_path / "other"
    other.mkdir()
    (other / "class.txt").write_text("cats\ndogs", encoding="utf-8")
    (other / "pets.txt").write_text("喵喵\t0\n汪汪\t1\n", encoding="utf-8")
    status, _, err = run_main(capsys, "evaluate", "--checkpoint", path,
                              "--data", other / "pets.txt")
    assert_one_line_error(status, err, "cats", "not the checkpoint's classes")

    status, _, err = run_main(capsys, "evaluate", "--checkpoint", path,
                              "--data", tmp_path / "no.txt")
    assert_one_line_error(status, err, "no.txt")
    status, _, err = run_main(capsys, "evaluate", "--checkpoint", path, "--data", other)
    assert_one_line_error(status, err, "folder")


def test_train_input_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_main(capsys, "train", "--model", "textrnn", "--data-dir", tmp_path)
    assert_one_line_error(status, err, "no train split", "download")
    if not torch.cuda.is_available():
        status, _, err = run_main(capsys, "train", "--model", "textrnn", "--device", "cuda",
                                  "--data-dir", tmp_path)
        assert_one_line_error(status, err, "cuda")
    status, _, err = run_main(capsys, "train", "--model", "textrnn", "--hidden", "8",
                              "--out", tmp_path, "--data-dir", tmp_path)
    assert_one_line_error(status, err, "is a folder")


@pytest.mark.parametrize("argv", [
    ["train"],  # --model is required
    ["train", "--model", "lstm"],
    ["train", "--model", "textrnn", "--epochs", "0"],
    ["train", "--model", "textrnn", "--dropout", "1.5"],
    ["predict", "--checkpoint", "x"],  # no text
    ["download", "imdb"],
    [],
])
def test_usage_errors_keep_argparse_status_2(argv: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_help_lists_the_commands() -> None:
    proc = cli("--help")
    assert proc.returncode == 0
    for command in ("train", "evaluate", "predict", "download"):
        assert command in proc.stdout
    train_help = cli("train", "--help")
    assert train_help.returncode == 0, train_help.stderr
    # Defaults come from the dataclasses, shown without importing torch first.
    assert "--hidden HIDDEN" in train_help.stdout and "(default: 128)" in train_help.stdout


def test_every_train_option_is_a_config_field() -> None:
    assert {f for f, _ in MODEL_OPTIONS.values()} <= {f.name for f in fields(ModelConfig)}
    assert {f for f, _ in TRAIN_OPTIONS.values()} <= {f.name for f in fields(TrainConfig)}


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
def test_ctrl_c_stops_training_and_keeps_the_best_checkpoint(shared_data: Path,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "interrupted.safetensors"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnviz", *map(str, [
            "train", "--model", "textrcnn", "--data-dir", shared_data, "--train-limit", 2000,
            "--dev-limit", 200, "--max-steps", 100_000, "--eval-every", 20, *QUICK, "--out", out,
        ])],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    seen = b""
    deadline = time.monotonic() + 300  # generous (a busy machine); it fails, never hangs
    try:
        while b"dev acc" not in seen:  # Ctrl-C after the first evaluation: a best to keep
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no 'dev acc' line on stderr within 300 s; so far:\n"
                            f"{seen.decode('utf-8', 'replace')[-2000:]}")
            # Wait for output at most until the deadline: a silent child cannot block the read.
            if not select.select([proc.stderr], [], [], left)[0]:
                continue
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                pytest.fail(f"training exited (status {proc.wait()}) before its first "
                            f"evaluation:\n{seen.decode('utf-8', 'replace')[-2000:]}")
            seen += chunk
        proc.send_signal(signal.SIGINT)
        try:
            stdout, stderr = proc.communicate(timeout=200)
        except subprocess.TimeoutExpired:
            pytest.fail("training did not exit within 200 s of Ctrl-C")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr_text = (seen + stderr).decode("utf-8")
    assert proc.returncode == 130, stderr_text[-2000:]
    assert "Traceback" not in stderr_text
    assert "interrupted" in stderr_text
    assert "saved checkpoint" in stdout.decode("utf-8")
    checkpoint = load_checkpoint(out)
    assert checkpoint.info["stop_reason"] == "interrupted (Ctrl-C)"
    assert checkpoint.metrics is not None
    best = max(h["dev_accuracy"] for h in checkpoint.history)
    assert checkpoint.metrics["accuracy"] == best


def make_source(folder: Path) -> Path:
    """A stand-in for the public split: the real class.txt bytes and the real line counts."""
    folder.mkdir()
    (folder / "class.txt").write_text("\n".join(THUCNEWS_CLASSES), encoding="utf-8")
    for name, n in (("train.txt", 180_000), ("dev.txt", 10_000), ("test.txt", 10_000)):
        lines = (f"新闻标题{i % 97}\t{i % 10}\n" for i in range(n))
        (folder / name).write_text("".join(lines), encoding="utf-8")
    return folder


def test_download_from_a_file_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = make_source(tmp_path / "mirror")
    dest = tmp_path / "dest"
    status, out, err = run_main(capsys, "download", "thucnews", "--dest", dest,
                                "--source", source.as_uri())
    assert status == 0, err
    folder = dest / "thucnews"
    for name in ("class.txt", "train.txt", "dev.txt", "test.txt", "SHA256SUMS"):
        assert (folder / name).is_file()
    assert (folder / "train.txt").read_bytes() == (source / "train.txt").read_bytes()
    assert f"--data-dir {folder}" in out

    # No --dest: $RNNVIZ_DATA_DIR if set, else the user's cache, never the shared data folder.
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    status, out, err = run_main(capsys, "download", "thucnews", "--source", source)
    assert status == 0, err
    assert (tmp_path / "cache" / "rnnviz" / "data" / "thucnews" / "train.txt").is_file()
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "env"))
    status, out, err = run_main(capsys, "download", "thucnews", "--source", source)
    assert status == 0, err
    assert (tmp_path / "env" / "thucnews" / "dev.txt").is_file()

    (source / "dev.txt").write_text("坏行\n", encoding="utf-8")
    status, _, err = run_main(capsys, "download", "thucnews", "--dest", tmp_path / "bad",
                              "--source", source)
    assert_one_line_error(status, err.splitlines()[-1] + "\n", "dev.txt", "failed its check")
    status, _, err = run_main(capsys, "download", "thucnews", "--source", tmp_path / "nowhere")
    assert_one_line_error(status, err, "source")
