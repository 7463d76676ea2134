"""Checkpoints: a faithful round trip, atomic writes, and a clear refusal of every bad file."""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import struct
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
import safetensors.torch
import torch
from helpers import build_with_bigram_keys

from rnnviz.core.checkpoint import (
    FORMAT,
    FORMAT_VERSION,
    MAX_PREDICT_TOKENS,
    Checkpoint,
    load_checkpoint,
)
from rnnviz.core.metrics import EvalReport, classification_report
from rnnviz.core.models import ModelConfig, count_parameters
from rnnviz.core.predict import Predictor
from rnnviz.core.text import PAD, UNK, Vocab
from rnnviz.core.train import TrainConfig, train
from rnnviz.errors import RnnVizError

CHARS = "今天股市上涨球赛冠军电影明星"
CLASSES = ["finance", "sports", "entertainment"]
NAME = "student.safetensors"


pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


def _checkpoint(**overrides) -> Checkpoint:
    vocab = Vocab((PAD, UNK, *CHARS))
    settings = dict(vocab_size=len(vocab), num_classes=len(CLASSES), embed_dim=8, hidden_size=6,
                    num_layers=2, rcnn_proj=5, max_len=32)
    config = ModelConfig(**{**settings, **overrides})
    model = build_with_bigram_keys(config)
    report = classification_report([0, 1, 2, 1], [0, 1, 1, 1], CLASSES, loss=0.7)
    return Checkpoint(
        model=model, config=config, vocab=vocab, classes=list(CLASSES),
        metrics=report.to_json(), history=[{"step": 10, "dev_accuracy": 0.75}],
        train_config=TrainConfig(epochs=2).to_dict(),
        info={"created": "2025-01-01T00:00:00+00:00", "data_source": "unit test"},
    )


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.tensor([[2, 3, 4, 5, 6], [7, 8, 9, 0, 0], [1, 10, 0, 0, 0]])  # (B, T), padded
    return ids, torch.tensor([5, 3, 2])


def _logits(model: torch.nn.Module) -> torch.Tensor:
    with torch.inference_mode():
        return model(*_batch())


def _header_metadata(data: bytes) -> dict[str, str]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n])["__metadata__"]


def _rewrite(data: bytes, *, metadata: dict | None = None, tensors=None) -> bytes:
    """A checkpoint's bytes with some metadata fields and/or tensors changed."""
    meta = {**_header_metadata(data), **(metadata or {})}
    t = safetensors.torch.load(data)
    if tensors is not None:
        t = tensors(t)
    return safetensors.torch.save(t, metadata=meta)


def _refused(data: bytes, match: str, name: str = NAME) -> RnnVizError:
    with pytest.raises(RnnVizError, match=match) as info:
        load_checkpoint(data, name=name)
    assert name in str(info.value)  # every refusal names the file
    return info.value


# --- round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        dict(model="textrnn", cell="lstm", pooling="meanmax", bigram_dim=4, bigram_vocab=11),
        dict(model="textrnn", cell="gru", bidirectional=False, pooling="last", num_layers=1),
        dict(model="textrcnn", cell="rnn", num_layers=1),
        dict(model="textrcnn", cell="lstm", tokenizer="word", bigram_dim=3, bigram_vocab=5),
    ],
    ids=["rnn-lstm-meanmax-bigram", "rnn-gru-uni", "rcnn-rnn", "rcnn-lstm-word"],
)
def test_round_trip_keeps_weights_predictions_and_metadata(tmp_path: Path, overrides) -> None:
    ck = _checkpoint(**overrides)
    path = ck.save(tmp_path / "nested" / "dir" / NAME)  # parent directories are created
    assert path == tmp_path / "nested" / "dir" / NAME

    for loaded in (load_checkpoint(path), load_checkpoint(path.read_bytes(), name=NAME)):
        assert type(loaded.model) is type(ck.model)
        assert not loaded.model.training
        assert loaded.config == ck.config
        assert loaded.vocab == ck.vocab
        assert loaded.classes == ck.classes
        assert loaded.metrics == ck.metrics
        assert EvalReport.from_json(loaded.metrics).accuracy == 0.75
        assert loaded.history == ck.history
        assert loaded.train_config == ck.train_config
        assert loaded.info == ck.info
        expected = ck.model.state_dict()
        got = loaded.model.state_dict()
        assert list(got) == list(expected)
        for k in expected:
            assert got[k].dtype == (torch.int64 if k == "bigram_keys" else torch.float32)
            assert torch.equal(got[k], expected[k]), k
        assert torch.equal(_logits(loaded.model), _logits(ck.model))


def test_file_holds_the_documented_metadata_as_json_strings(tmp_path: Path) -> None:
    ck = _checkpoint()
    meta = _header_metadata(ck.save(tmp_path / NAME).read_bytes())
    assert meta["format"] == FORMAT
    assert meta["format_version"] == str(FORMAT_VERSION)
    assert json.loads(meta["config"]) == ck.config.to_dict()
    assert json.loads(meta["vocab"]) == list(ck.vocab.itos)
    assert json.loads(meta["classes"]) == CLASSES
    for key in ("metrics", "history", "train_config", "info"):
        assert json.loads(meta[key]) == getattr(ck, key)


@dataclass
class _Texts:
    texts: list[str]
    labels: list[int]
    classes: list[str]


def test_from_train_result_records_run_and_survives_a_reload(tmp_path: Path) -> None:
    texts = ["今天股市上涨", "股市大涨", "球赛冠军", "足球比赛", "电影明星", "明星电影节"] * 3
    labels = [0, 0, 1, 1, 2, 2] * 3
    data = _Texts(texts, labels, list(CLASSES))
    config = ModelConfig(embed_dim=8, hidden_size=6, num_layers=1, max_len=32, bigram_dim=4)
    result = train(config, TrainConfig(epochs=2, batch_size=6, device="cpu", warmup_steps=0),
                   data, data)
    ck = Checkpoint.from_train_result(result, info={"data_source": "toy"})

    assert ck.metrics == result.dev_report.to_json()
    assert ck.history == result.history and len(ck.history) == 2
    assert ck.train_config == result.train_config.to_dict()
    assert ck.info["params"] == count_parameters(result.model)
    assert ck.info["torch"] == torch.__version__
    assert ck.info["device"] == "cpu"
    assert ck.info["data_source"] == "toy"
    assert ck.info["seconds"] == pytest.approx(result.seconds, abs=1e-3)
    assert "T" in ck.info["created"]  # ISO time

    loaded = load_checkpoint(ck.save(tmp_path / NAME))
    assert loaded.vocab == result.vocab
    assert loaded.config.vocab_size == len(result.vocab)
    assert EvalReport.from_json(loaded.metrics) == result.dev_report
    assert loaded.config.bigram_vocab > 0
    assert torch.equal(loaded.model.bigram_keys, result.model.bigram_keys)
    assert torch.equal(_logits(loaded.model), _logits(result.model))


# --- atomic writes -----------------------------------------------------------------------


def test_save_replaces_the_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    first, second = _checkpoint(), _checkpoint()
    path = first.save(tmp_path / NAME)
    second.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [NAME]
    assert torch.equal(_logits(load_checkpoint(path).model), _logits(second.model))
    assert not torch.equal(_logits(first.model), _logits(second.model))


def test_a_failing_write_leaves_the_old_file_intact(tmp_path: Path, monkeypatch) -> None:
    path = _checkpoint().save(tmp_path / NAME)
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("rnnviz.core.atomic.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        _checkpoint().save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [NAME]


def test_save_refuses_diverged_weights_and_writes_nothing(tmp_path: Path) -> None:
    ck = _checkpoint()
    with torch.no_grad():
        ck.model.fc.weight[0, 0] = float("nan")
    with pytest.raises(RnnVizError, match=r"fc\.weight.*NaN"):
        ck.save(tmp_path / NAME)
    assert list(tmp_path.iterdir()) == []


# --- refusals ---------------------------------------------------------------------------


class _Payload:
    """A pickle that, when unpickled, creates ``marker``: proof of code execution."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_pickle_that_runs_code_is_refused_unopened(tmp_path: Path, protocol: int) -> None:
    # The payload is live: unpickling it (here, on purpose) does create a file.
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_Payload(probe), protocol=protocol)).close()
    assert probe.exists()

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps({"state_dict": _Payload(marker)}, protocol=protocol))
    with pytest.raises(RnnVizError, match="pickle") as info:
        load_checkpoint(evil)
    assert "evil.safetensors" in str(info.value)
    assert not marker.exists()
    _refused(evil.read_bytes(), "pickle")
    assert not marker.exists()


def test_torch_save_zip_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    torch.save(_checkpoint().model.state_dict(), buf)
    _refused(buf.getvalue(), "zip archive.*torch.save")


@pytest.mark.parametrize(
    "cut", [0, 5, 12, -40, -1],
    ids=["empty", "5-bytes", "inside-header", "inside-data", "last-byte"],
)
def test_truncated_file_is_refused(cut: int) -> None:
    data = _checkpoint().to_bytes()
    _refused(data[:cut], "truncated|empty")


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"<!DOCTYPE html>\n<html><body>404 Not Found</body></html>", "HTML"),
        ("类别\t标题\n体育\t中国女排夺冠\n".encode(), "text file"),
        (bytes(range(256)) * 4, "unrecognised binary"),
    ],
    ids=["html", "text", "binary"],
)
def test_other_files_are_named(payload: bytes, match: str) -> None:
    _refused(payload, match)


@pytest.mark.parametrize("metadata", [None, {"format": "pt"}], ids=["no-metadata", "foreign"])
def test_safetensors_from_another_program_is_refused(metadata) -> None:
    data = safetensors.torch.save({"weight": torch.zeros(3, 2)}, metadata=metadata)
    _refused(data, "not from RNN Lab")


def test_unsupported_format_version_is_refused() -> None:
    data = _checkpoint().to_bytes()
    _refused(_rewrite(data, metadata={"format_version": "2"}), "format_version 2.*newer")
    _refused(_rewrite(data, metadata={"format_version": "one"}), "not a version number")


@pytest.mark.parametrize("key", ["config", "classes", "metrics", "history", "train_config", "info"])
def test_bad_json_in_metadata_is_refused(key: str) -> None:
    data = _rewrite(_checkpoint().to_bytes(), metadata={key: "{not json"})
    _refused(data, f"'{key}' is not valid JSON")


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("vocab", "[1, 2]", "bad vocabulary"),
        ("vocab", "{oops", "bad vocabulary.*not valid JSON"),
        ("classes", '"sports"', "list of strings"),
        ("history", '{"step": 1}', "list of objects"),
        ("info", "[]", "'info' must be a JSON object"),
        ("metrics", '{"accuracy": 1}', "not an evaluation report"),
    ],
)
def test_malformed_metadata_fields_are_refused(field: str, value: str, match: str) -> None:
    _refused(_rewrite(_checkpoint().to_bytes(), metadata={field: value}), match)


def test_missing_metadata_field_is_refused() -> None:
    data = _checkpoint().to_bytes()
    meta = _header_metadata(data)
    del meta["vocab"]
    _refused(safetensors.torch.save(safetensors.torch.load(data), metadata=meta), "lacks vocab")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"cell": "transformer"}, "unknown cell"),
        ({"colour": "red"}, r"unknown config fields \['colour'\]"),
        ({"dropout": "0.3"}, "bad model config"),
        ({"max_len": MAX_PREDICT_TOKENS + 1}, "max_len"),
    ],
)
def test_bad_model_config_is_refused(change: dict, match: str) -> None:
    data = _checkpoint().to_bytes()
    config = {**json.loads(_header_metadata(data)["config"]), **change}
    _refused(_rewrite(data, metadata={"config": json.dumps(config)}), match)


def test_vocabulary_that_does_not_fit_the_embedding_is_refused() -> None:
    data = _checkpoint().to_bytes()
    bigger = Vocab((PAD, UNK, *CHARS, "新")).to_json()
    err = _refused(_rewrite(data, metadata={"vocab": bigger}), "vocabulary has")
    assert f"{len(CHARS) + 3} tokens" in str(err) and f"{len(CHARS) + 2} rows" in str(err)


def test_class_names_that_do_not_fit_the_classifier_are_refused() -> None:
    data = _checkpoint().to_bytes()
    _refused(_rewrite(data, metadata={"classes": json.dumps(CLASSES[:2])}),
             "2 class names but the classifier has 3 outputs")
    _refused(_rewrite(data, metadata={"classes": json.dumps(["a", "a", "b"])}), "not unique")


def test_wrong_shape_missing_and_unexpected_tensors_are_listed() -> None:
    data = _checkpoint().to_bytes()

    def tamper(t: dict) -> dict:
        t["rnn.weight_hh_l0"] = torch.zeros(24, 7)  # expected (4*6, 6)
        del t["fc.bias"]
        t["decoder.weight"] = torch.zeros(2, 2)
        return t

    err = str(_refused(_rewrite(data, tensors=tamper), "do not fit"))
    assert "missing tensors ['fc.bias']" in err
    assert "unexpected tensors ['decoder.weight']" in err
    assert "rnn.weight_hh_l0 is (24, 7), expected (24, 6)" in err


def test_huge_config_is_refused_without_allocating_it() -> None:
    data = _checkpoint().to_bytes()
    config = {**json.loads(_header_metadata(data)["config"]), "hidden_size": 10**6}
    # A real model of this size needs ~16 TB: only the meta-device check can refuse it quickly.
    _refused(_rewrite(data, metadata={"config": json.dumps(config)}), "wrong shapes")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_weights_that_are_not_float32_are_refused(dtype: torch.dtype) -> None:
    data = _checkpoint().to_bytes()

    def cast(t: dict) -> dict:
        t["fc.weight"] = t["fc.weight"].to(dtype)
        return t

    _refused(_rewrite(data, tensors=cast), r"float32.*fc\.weight is [A-Z0-9]+, expected F32")


def test_bigram_keys_must_be_int64_sorted_and_in_range() -> None:
    data = _checkpoint(bigram_dim=4, bigram_vocab=6).to_bytes()
    vocab_size = len(CHARS) + 2

    def replace(keys: torch.Tensor):
        def change(t: dict) -> dict:
            t["bigram_keys"] = keys
            return t
        return change

    good = safetensors.torch.load(data)["bigram_keys"]
    assert bool((good[1:] > good[:-1]).all())
    _refused(_rewrite(data, tensors=replace(good.float())), "bigram_keys is F32, expected I64")
    _refused(_rewrite(data, tensors=replace(good.flip(0))), "sorted and unique")
    _refused(_rewrite(data, tensors=replace(torch.tensor([0, 1, 1, 2, 3, 4]))), "sorted and unique")
    too_big = torch.tensor([0, 1, 2, 3, 4, vocab_size**2])
    _refused(_rewrite(data, tensors=replace(too_big)), f"0..{vocab_size**2 - 1}")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_weights_are_refused(bad: float) -> None:
    data = _checkpoint().to_bytes()

    def poison(t: dict) -> dict:
        t["embedding.weight"][3, 1] = bad
        return t

    _refused(_rewrite(data, tensors=poison), r"embedding\.weight contains NaN or inf")


def test_oversize_bytes_are_refused() -> None:
    data = _checkpoint().to_bytes()
    with pytest.raises(RnnVizError, match="larger than") as info:
        load_checkpoint(data, name="big.safetensors", max_bytes=len(data) - 1)
    assert "big.safetensors" in str(info.value)
    assert load_checkpoint(data, max_bytes=len(data)).config.hidden_size == 6


def test_oversize_file_is_refused_before_it_is_read(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "huge.safetensors"
    with path.open("wb") as f:
        f.truncate(51 * 2**20)  # sparse: 51 MiB on paper, nothing on disk

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(Path, "open", no_reading)
    monkeypatch.setattr(Path, "read_bytes", no_reading)
    with pytest.raises(RnnVizError, match=r"51\.0 MiB, larger than the 50\.0 MiB limit") as info:
        load_checkpoint(path)
    assert "huge.safetensors" in str(info.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RnnVizError, match="no such checkpoint file") as info:
        load_checkpoint(tmp_path / "gone.safetensors")
    assert "gone.safetensors" in str(info.value)


def test_garbage_tensor_offsets_are_refused() -> None:
    data = _checkpoint().to_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header["fc.bias"]["data_offsets"] = [0, 10**9]
    raw = json.dumps(header).encode()
    forged = len(raw).to_bytes(8, "little") + raw + data[8 + n :]
    _refused(forged, "truncated")


def test_loading_never_unpickles(monkeypatch, tmp_path: Path) -> None:
    """Belt and braces: the loader never reaches pickle or torch.load, whatever the input."""

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling was attempted")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    buf = io.BytesIO()
    torch.save({"x": torch.zeros(1)}, buf)
    for data in (buf.getvalue(), b"\x80\x04K\x01.", b"cos\nsystem\n(S'true'\ntR."):
        _refused(data, "zip|pickle")
    assert load_checkpoint(_checkpoint().to_bytes()).classes == CLASSES
    assert os.listdir(tmp_path) == []


# --- files saved before the settings moved to rnnviz/core/config.py still load ----------------

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHIPPED = Path(__file__).resolve().parent.parent / "assets" / "models"


# Training settings added after the shipped checkpoints were saved, with the defaults that
# train as before (issue 15: evaluations by seconds, a dev sample, the embeddings' LR scale).
ADDED_TRAIN_FIELDS = {"eval_every_s": 0.0, "dev_sample": 0, "embed_lr_scale": 1.0}


def assert_same_training(saved: dict) -> None:
    """Every saved training field is still a TrainConfig field, in its order, with its value;
    the fields added since take defaults that train as before."""
    names = [f.name for f in fields(TrainConfig)]
    assert [n for n in names if n in saved] == list(saved)
    assert set(names) - set(saved) <= set(ADDED_TRAIN_FIELDS)
    added = {k: v for k, v in ADDED_TRAIN_FIELDS.items() if k not in saved}
    assert TrainConfig.from_dict(saved).to_dict() == {**saved, **added}


@pytest.mark.parametrize("name", ["textrnn", "textrcnn"])
def test_shipped_checkpoints_load_with_the_field_names_they_were_saved_with(name: str) -> None:
    path = SHIPPED / f"{name}.safetensors"
    assert path.is_file(), f"the shipped model {path} is missing"
    data = path.read_bytes()
    checkpoint = load_checkpoint(data, name=path.name)
    meta = _header_metadata(data)
    assert checkpoint.config.model == name
    assert checkpoint.config.to_dict() == json.loads(meta["config"])
    assert_same_training(json.loads(meta["train_config"]))
    assert set(_header_metadata(checkpoint.to_bytes())) == set(meta)


@pytest.mark.parametrize("name", ["old_cli_textrnn", "old_job_textrcnn"])
def test_checkpoints_the_old_code_saved_load_and_predict_as_they_did(name: str) -> None:
    expected = json.loads((FIXTURES / "old_checkpoints.json").read_text(encoding="utf-8"))
    data = (FIXTURES / f"{name}.safetensors").read_bytes()
    predictor = Predictor(load_checkpoint(data, name=name))
    result = predictor.predict(expected["text"], with_trace=False).to_json()
    assert result["label"] == expected[name]["label"]
    assert result["probabilities"] == pytest.approx(expected[name]["probabilities"], abs=2e-5)
    checkpoint = predictor.checkpoint
    assert list(checkpoint.info) == expected[name]["info_keys"]
    assert checkpoint.config.to_dict() == json.loads(_header_metadata(data)["config"])
    assert_same_training(checkpoint.train_config)
    again = load_checkpoint(checkpoint.to_bytes())
    assert again.config == checkpoint.config and again.info == checkpoint.info
