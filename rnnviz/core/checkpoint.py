"""One checkpoint file a student can download and upload again: weights + config + vocabulary.

The file is safetensors (https://huggingface.co/docs/safetensors): an 8-byte little-endian
header length, a JSON header naming every tensor's dtype, shape and byte range, then the raw
bytes. Nothing in it is code, so loading a file a user uploaded cannot run anything. Our
config, vocabulary, class names, dev metrics, history and provenance ride in the header's
``__metadata__`` (string -> string, so each is a JSON string), as nanoGPT keeps ``model_args``
beside its weights.

Loading checks everything before building anything (size, header, marker, version, JSON,
vocabulary and class counts, tensor names, shapes, dtypes: float32 weights and int64 bigram
keys, finiteness) and refuses with an
RnnVizError that names the file. Pickles and ``torch.save`` zips are recognised and refused,
never opened: ``pickle.load`` / ``torch.load`` are not used here at all.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from rnnviz.core.atomic import write_atomically
from rnnviz.core.config import ModelConfig
from rnnviz.core.metrics import EvalReport
from rnnviz.core.models import build_model, count_parameters
from rnnviz.core.text import Vocab
from rnnviz.core.train import TrainResult
from rnnviz.errors import RnnVizError

FORMAT = "rnnviz-checkpoint"
FORMAT_VERSION = 1
MAX_CHECKPOINT_BYTES = 50 * 2**20
# A config may not ask the predictor to replay more tokens than this (an uploaded file with
# max_len = 10**6 would otherwise tie a server thread up for minutes on one long paste).
MAX_PREDICT_TOKENS = 4096
_HEADER_LIMIT = 20 * 2**20  # safetensors' own cap on the JSON header
# safetensors' dtype names; the architecture decides which one each tensor must have.
_DTYPE_NAMES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
                torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
                torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}
_METADATA_KEYS = ("format", "format_version", "config", "vocab", "classes", "metrics",
                  "history", "train_config", "info")


@dataclass
class Checkpoint:
    """A trained classifier with everything needed to use and describe it."""

    model: nn.Module  # eval mode, CPU, float32
    config: ModelConfig
    vocab: Vocab
    classes: list[str]
    metrics: dict | None = None  # EvalReport.to_json() of the dev set, if any
    history: list[dict] = field(default_factory=list)  # TrainerState.history
    train_config: dict = field(default_factory=dict)  # TrainConfig.to_dict()
    info: dict = field(default_factory=dict)  # created, torch, seconds, device, data source, params

    @classmethod
    def from_train_result(cls, result: TrainResult, info: dict | None = None) -> Checkpoint:
        """Wrap a finished run; ``info`` adds provenance (e.g. {"data_source": ...})."""
        model = result.model.eval().cpu().float()
        provenance = {
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "torch": torch.__version__,
            "seconds": round(float(result.seconds), 3),
            "device": result.device,
            "params": count_parameters(model),
            **(info or {}),
        }
        return cls(
            model=model, config=result.config, vocab=result.vocab, classes=list(result.classes),
            metrics=result.dev_report.to_json() if result.dev_report is not None else None,
            history=list(result.history), train_config=result.train_config.to_dict(),
            info=provenance,
        )

    def to_bytes(self) -> bytes:
        """The checkpoint file's content (what ``save`` writes and a download button sends)."""
        if len(self.vocab) != self.config.vocab_size:
            raise RnnVizError(f"vocabulary has {len(self.vocab)} tokens but config.vocab_size is "
                              f"{self.config.vocab_size}")
        if len(self.classes) != self.config.num_classes:
            raise RnnVizError(f"{len(self.classes)} class names but config.num_classes is "
                              f"{self.config.num_classes}")
        tensors = {}
        for name, t in self.model.state_dict().items():
            t = t.detach().cpu().contiguous()
            if not t.is_floating_point():
                tensors[name] = t  # integer buffers (the bigram keys) keep their dtype
                continue
            t = t.to(torch.float32)
            if not bool(torch.isfinite(t).all()):
                raise RnnVizError(f"weights {name} contain NaN or inf (training diverged); "
                                  "nothing was saved")
            tensors[name] = t
        metadata = {
            "format": FORMAT,
            "format_version": str(FORMAT_VERSION),
            "config": json.dumps(self.config.to_dict()),
            "vocab": self.vocab.to_json(),
            "classes": json.dumps(list(self.classes), ensure_ascii=False),
            "metrics": json.dumps(self.metrics, ensure_ascii=False),
            "history": json.dumps(self.history, ensure_ascii=False),
            "train_config": json.dumps(self.train_config, ensure_ascii=False),
            "info": json.dumps(self.info, ensure_ascii=False),
        }
        return save_safetensors(tensors, metadata=metadata)

    def save(self, path: str | Path) -> Path:
        """Write atomically (rnnviz/core/atomic.py): a reader or a crash sees the old file or
        the new one, never half; a refused checkpoint leaves the file system untouched."""
        return write_atomically(path, self.to_bytes())


def load_checkpoint(
    source: str | Path | bytes, *, name: str | None = None, max_bytes: int = MAX_CHECKPOINT_BYTES
) -> Checkpoint:
    """Read and check a checkpoint from a path or from uploaded bytes.

    ``name`` is how messages refer to the file (default: the path as given, or "upload").
    Raises RnnVizError, naming the file, for anything that is not a sound RNN Lab checkpoint.
    """
    data, label = _read(source, name, max_bytes)
    header = _split_safetensors(data, label)
    metadata = _metadata(header, label)
    config, vocab, classes, extras = _parse_metadata(metadata, label)
    _check_header_tensors(header, config, label)
    try:
        tensors = load_safetensors(data)
    except Exception as exc:  # safetensors raises its own error type for corrupt files
        raise RnnVizError(f"the safetensors data is corrupt ({exc})", where=label) from None
    for tensor_name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise RnnVizError(f"tensor {tensor_name} contains NaN or inf values", where=label)
    _check_bigram_keys(tensors.get("bigram_keys"), config, label)
    model = build_model(config)
    model.load_state_dict(tensors, strict=True)  # names and shapes already match exactly
    model.eval()
    return Checkpoint(model=model, config=config, vocab=vocab, classes=classes, **extras)


def _read(source: str | Path | bytes, name: str | None, max_bytes: int) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        label = name or "upload"
        if len(data) > max_bytes:
            raise RnnVizError(f"file is {_mib(len(data))}, larger than the {_mib(max_bytes)} "
                              "limit for a checkpoint", where=label)
        return data, label
    if not isinstance(source, str | Path):
        raise RnnVizError(f"expected a path or bytes, got {type(source).__name__}")
    path = Path(source)
    label = name or str(path)
    if not path.is_file():
        raise RnnVizError("no such checkpoint file", where=label)
    size = path.stat().st_size  # checked before reading: a 5 GB file is never read whole
    if size > max_bytes:
        raise RnnVizError(f"file is {_mib(size)}, larger than the {_mib(max_bytes)} limit for "
                          "a checkpoint", where=label)
    with path.open("rb") as f:
        data = f.read(max_bytes + 1)  # the file may have grown since stat
    if len(data) > max_bytes:
        raise RnnVizError(f"file is larger than the {_mib(max_bytes)} limit", where=label)
    return data, label


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def _split_safetensors(data: bytes, label: str) -> dict:
    """The parsed JSON header, once the byte ranges it names are known to fit in the file."""
    if len(data) < 8:
        if not data:
            raise RnnVizError("not a checkpoint: the file is empty", where=label)
        what = _sniff(data) or f"not a checkpoint: the file is only {len(data)} bytes (truncated?)"
        raise RnnVizError(what, where=label)
    (header_len,) = struct.unpack("<Q", data[:8])
    looks_like_header = data[8:9] == b"{" and header_len <= _HEADER_LIMIT
    if not looks_like_header:
        raise RnnVizError(_not_safetensors(data), where=label)
    if 8 + header_len > len(data):
        raise RnnVizError(f"the file is truncated: its header needs {header_len} bytes but only "
                          f"{len(data) - 8} follow", where=label)
    try:
        header = json.loads(data[8 : 8 + header_len])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RnnVizError(f"the safetensors header is not valid JSON ({exc})",
                          where=label) from None
    except RecursionError:
        raise RnnVizError("the safetensors header is nested too deeply", where=label) from None
    if not isinstance(header, dict):
        raise RnnVizError("the safetensors header is not a JSON object", where=label)
    body = len(data) - 8 - header_len
    ends = []
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not (isinstance(entry, dict) and isinstance(entry.get("dtype"), str)
                and isinstance(shape, list)
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
            raise RnnVizError(f"tensor {key} has no valid dtype and shape in the header",
                              where=label)
        offsets = entry.get("data_offsets")
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) for o in offsets)):
            raise RnnVizError(f"tensor {key} has no valid data_offsets in the header", where=label)
        ends.append(offsets[1])
    if ends and max(ends) > body:
        raise RnnVizError(f"the file is truncated: the tensors need {max(ends)} bytes after the "
                          f"header but only {body} are there", where=label)
    return header


def _not_safetensors(data: bytes) -> str:
    return _sniff(data) or "not a safetensors checkpoint (unrecognised binary data)"


def _sniff(data: bytes) -> str | None:
    """Say what the file looks like instead, so the student knows what they uploaded."""
    head = data[:64]
    if head[:1] == b"\x80" or (head[:1] in (b"(", b"c", b"]", b"}") and data.rstrip()[-1:] == b"."):
        return ("this is a Python pickle, which can run code when opened; it was refused "
                "unopened. Save checkpoints with RNN Lab (safetensors) instead")
    if head.startswith(b"PK"):
        return ("this is a zip archive (what torch.save writes); torch.save files can run code "
                "when loaded and are refused unopened. Save checkpoints with RNN Lab instead")
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")):
        return "this is an HTML/XML page, not a checkpoint (a failed download?)"
    sample = data[:4096]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if b"\x00" in sample:
        return None
    return "this is a text file, not a checkpoint (expected a .safetensors file)"


def _metadata(header: dict, label: str) -> dict[str, str]:
    metadata = header.get("__metadata__")
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise RnnVizError(f"a safetensors file, but not from RNN Lab (no {FORMAT!r} format "
                          "marker in its metadata); only checkpoints RNN Lab saved can be loaded",
                          where=label)
    version = metadata.get("format_version")
    if not (isinstance(version, str) and version.isdigit()):
        raise RnnVizError(f"format_version {version!r} is not a version number", where=label)
    if int(version) != FORMAT_VERSION:
        newer = " (written by a newer RNN Lab?)" if int(version) > FORMAT_VERSION else ""
        raise RnnVizError(f"unsupported checkpoint format_version {version}{newer}; this RNN "
                          f"Lab reads version {FORMAT_VERSION}", where=label)
    missing = [k for k in _METADATA_KEYS if not isinstance(metadata.get(k), str)]
    if missing:
        raise RnnVizError(f"checkpoint metadata lacks {', '.join(missing)}", where=label)
    return metadata


def _json_field(metadata: dict[str, str], key: str, label: str) -> Any:
    try:
        return json.loads(metadata[key])
    except json.JSONDecodeError as exc:
        raise RnnVizError(f"metadata field {key!r} is not valid JSON ({exc.msg} at char "
                          f"{exc.pos})", where=label) from None
    except RecursionError:
        raise RnnVizError(f"metadata field {key!r} is nested too deeply", where=label) from None


def _parse_metadata(
    metadata: dict[str, str], label: str
) -> tuple[ModelConfig, Vocab, list[str], dict[str, Any]]:
    raw_config = _json_field(metadata, "config", label)
    try:
        config = ModelConfig.from_dict(raw_config)
    except RnnVizError as exc:
        raise RnnVizError(f"bad model config: {exc}", where=label) from None
    if config.max_len > MAX_PREDICT_TOKENS:
        raise RnnVizError(f"config.max_len {config.max_len} is above the {MAX_PREDICT_TOKENS} "
                          "tokens RNN Lab replays per prediction", where=label)
    try:
        vocab = Vocab.from_json(metadata["vocab"])
    except RnnVizError as exc:
        raise RnnVizError(f"bad vocabulary: {exc}", where=label) from None
    classes = _json_field(metadata, "classes", label)
    if not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        raise RnnVizError("metadata field 'classes' must be a JSON list of strings", where=label)
    if len(vocab) != config.vocab_size:
        raise RnnVizError(f"vocabulary has {len(vocab)} tokens but the embedding has "
                          f"{config.vocab_size} rows (config.vocab_size)", where=label)
    if len(classes) != config.num_classes:
        raise RnnVizError(f"{len(classes)} class names but the classifier has "
                          f"{config.num_classes} outputs (config.num_classes)", where=label)
    if len(set(classes)) != len(classes):
        raise RnnVizError("class names are not unique", where=label)

    metrics = _json_field(metadata, "metrics", label)
    if metrics is not None:
        try:
            EvalReport.from_json(metrics)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RnnVizError(f"metadata field 'metrics' is not an evaluation report ({exc!r})",
                              where=label) from None
    history = _json_field(metadata, "history", label)
    if not (isinstance(history, list) and all(isinstance(h, dict) for h in history)):
        raise RnnVizError("metadata field 'history' must be a JSON list of objects", where=label)
    extras: dict[str, Any] = {"metrics": metrics, "history": history}
    for key in ("train_config", "info"):
        value = _json_field(metadata, key, label)
        if not isinstance(value, dict):
            raise RnnVizError(f"metadata field {key!r} must be a JSON object", where=label)
        extras[key] = value
    return config, vocab, classes, extras


def _check_header_tensors(header: dict, config: ModelConfig, label: str) -> None:
    """Names, shapes and dtypes in the header against the architecture the config describes.

    The reference model is built on the meta device: no memory is allocated, so a config
    asking for a 10^12-parameter model costs nothing before it is refused.
    """
    with torch.device("meta"):
        reference = build_model(config).state_dict()
    expected = {k: tuple(v.shape) for k, v in reference.items()}
    found = {k: v for k, v in header.items() if k != "__metadata__"}
    problems = []
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing:
        problems.append(f"missing tensors {missing}")
    if unexpected:
        problems.append(f"unexpected tensors {unexpected}")
    wrong = [
        f"{k} is {tuple(found[k].get('shape', ()))}, expected {expected[k]}"
        for k in sorted(set(expected) & set(found))
        if tuple(found[k].get("shape", ())) != expected[k]
    ]
    if wrong:
        problems.append("wrong shapes: " + "; ".join(wrong))
    if problems:
        raise RnnVizError(f"the weights do not fit the {config.model} described by its config: "
                          + " | ".join(problems), where=label)
    want = {k: _DTYPE_NAMES.get(t.dtype, str(t.dtype)) for k, t in reference.items()}
    wrong_dtype = sorted(
        f"{k} is {v.get('dtype')}, expected {want[k]}"
        for k, v in found.items() if v.get("dtype") != want[k]
    )
    if wrong_dtype:
        raise RnnVizError("weights must be float32 (F32) and the bigram keys int64 (I64): "
                          + "; ".join(wrong_dtype), where=label)
    for k, v in found.items():
        offsets = v["data_offsets"]
        size = reference[k].element_size() * math.prod(expected[k])
        if offsets[1] - offsets[0] != size:
            raise RnnVizError(f"tensor {k} has {offsets[1] - offsets[0]} bytes of data, expected "
                              f"{size}", where=label)


def _check_bigram_keys(keys: torch.Tensor | None, config: ModelConfig, label: str) -> None:
    """The known-bigram table is searched by bisection: it must be sorted, unique, in range."""
    if keys is None or keys.numel() == 0:
        return
    if keys.numel() > 1 and not bool((keys[1:] > keys[:-1]).all()):
        raise RnnVizError("bigram_keys must be sorted and unique", where=label)
    if int(keys[0]) < 0 or int(keys[-1]) >= config.vocab_size**2:
        raise RnnVizError(f"bigram_keys must lie in 0..{config.vocab_size**2 - 1} "
                          "(prev_id * vocab_size + id)", where=label)


__all__ = ["FORMAT", "FORMAT_VERSION", "MAX_CHECKPOINT_BYTES", "MAX_PREDICT_TOKENS", "Checkpoint",
           "load_checkpoint"]
