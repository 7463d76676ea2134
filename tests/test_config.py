"""The settings, declared once (rnnviz/core/config.py): no torch on import, every field checked
on construction and named when refused, the CLI's train flags built from the fields, and one
list of cell kinds with one kind -> torch.nn class map that every user shares."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import torch

from rnnviz import cli
from rnnviz.core import cells, config, models, text
from rnnviz.core.config import CELLS, MODEL_PRESETS, ModelConfig, TrainConfig
from rnnviz.core.trace import module_kind
from rnnviz.errors import RnnVizError
from rnnviz.lessons import bptt, gating, longdep

ROOT = Path(__file__).resolve().parent.parent


def test_importing_the_config_does_not_import_torch() -> None:
    code = ("import sys, rnnviz.core.config, rnnviz.cli; rnnviz.cli.build_parser(); "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr or "importing rnnviz.core.config imported torch"


@pytest.mark.parametrize("cls", [ModelConfig, TrainConfig])
def test_every_field_has_help_a_rule_and_a_default_it_accepts(cls: type) -> None:
    for f in fields(cls):
        assert f.metadata["help"].strip(), f.name
        assert f.metadata["rule"].problem(f.name, f.default) is None, f.name
    assert cls.from_dict(cls().to_dict()) == cls()


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("epochs", 0, "positive integer"),
        ("batch_size", 2.5, "positive integer"),
        ("batch_size", True, "positive integer"),  # a bool is an int to Python, not here
        ("lr", 0.0, "> 0"),
        ("lr", math.nan, "> 0"),
        ("lr", "3e-3", "> 0"),
        ("weight_decay", -1e-4, ">= 0"),
        ("clip_norm", -1, ">= 0"),
        ("warmup_steps", -1, ">= 0"),
        ("schedule", "linear", "unknown schedule 'linear'; choose one of cosine, constant"),
        ("label_smoothing", 1.0, r"\[0, 1\)"),
        ("seed", 0.5, "an integer"),
        ("device", "tpu", "unknown device 'tpu'"),
        ("patience", -2, ">= 0"),
        ("eval_every", None, ">= 0"),
        ("max_steps", -1, ">= 0"),
        ("time_budget_s", -0.5, ">= 0"),
        ("max_train_len", 0, "positive integer"),
        ("min_freq", 0, "positive integer"),
        ("max_vocab", -1, ">= 0"),
        ("bigram_min_freq", 0, "positive integer"),
        ("max_bigrams", 1.5, ">= 0"),
        ("bucket", "yes", "true or false"),
    ],
)
def test_train_config_validation_names_the_field(field: str, value: object, match: str) -> None:
    with pytest.raises(RnnVizError, match=match) as info:
        TrainConfig(**{field: value})
    assert info.value.where == f"train_config.{field}"


def test_train_config_from_dict_refuses_unknown_fields() -> None:
    with pytest.raises(RnnVizError, match=r"unknown train_config fields \['lr_decay'\]"):
        TrainConfig.from_dict({"lr": 1e-3, "lr_decay": 0.5})
    with pytest.raises(RnnVizError, match="must be a JSON object"):
        TrainConfig.from_dict([])  # type: ignore[arg-type]


def test_model_presets_apply_under_the_overrides() -> None:
    assert ModelConfig.for_model("textrcnn").num_layers == MODEL_PRESETS["textrcnn"]["num_layers"]
    assert ModelConfig.for_model("textrcnn", num_layers=3).num_layers == 3
    assert ModelConfig.for_model("textrnn") == ModelConfig()


# ---- the command line reads the fields ------------------------------------------------------


def _train_args(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(["train", "--model", "textrnn", *argv])


def test_every_flagged_field_is_a_train_flag_and_nothing_else_is() -> None:
    for cls, options in ((ModelConfig, cli.MODEL_OPTIONS), (TrainConfig, cli.TRAIN_OPTIONS)):
        flagged = {f.metadata["flag"]: f.name for f in fields(cls) if f.metadata["flag"]}
        assert {flag: name for flag, (name, _) in options.items()} == flagged


def test_train_help_shows_each_fields_help_and_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for cls in (ModelConfig, TrainConfig):
        for f in fields(cls):
            if f.metadata["flag"]:
                assert f"{f.metadata['flag']}" in shown
                assert f"{' '.join(f.metadata['help'].split())} (default: {f.default})" in shown


def test_flags_left_out_leave_the_dataclass_defaults() -> None:
    args = _train_args()
    assert ModelConfig.for_model("textrnn", **cli._chosen(args, cli.MODEL_OPTIONS)) == ModelConfig()
    assert TrainConfig(**cli._chosen(args, cli.TRAIN_OPTIONS)) == TrainConfig()
    args = _train_args("--cell", "gru", "--no-bidirectional", "--lr", "1e-3", "--device", "cpu",
                       "--seed", "-3", "--no-bucket")
    assert cli._chosen(args, cli.MODEL_OPTIONS) == {"cell": "gru", "bidirectional": False}
    assert cli._chosen(args, cli.TRAIN_OPTIONS) == {
        "lr": 1e-3, "seed": -3, "device": "cpu", "bucket": False}


@pytest.mark.parametrize("argv", [
    ["--label-smoothing", "1"], ["--dropout", "-0.1"], ["--lr", "0"], ["--lr", "nan"],
    ["--epochs", "0"], ["--epochs", "2.5"], ["--max-vocab", "-1"], ["--schedule", "linear"],
    ["--cell", "transformer"], ["--device", "tpu"], ["--pooling", "attention"],
])
def test_the_cli_refuses_what_the_config_refuses(argv: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _train_args(*argv)
    assert exc.value.code == 2 and "usage:" in capsys.readouterr().err


# ---- one list of cell kinds, one kind -> class map ------------------------------------------


def test_every_cell_kind_list_is_the_config_one() -> None:
    assert cells.KINDS is CELLS and longdep.KINDS is CELLS and bptt.CELL_KINDS is CELLS
    assert gating.KIND_NAMES is config.CELL_NAMES is longdep.KIND_NAMES
    assert text.TOKENIZERS is config.TOKENIZERS
    assert set(cells.NN_MODULES) == set(CELLS) == set(cells.GATES)


@pytest.mark.parametrize("kind", CELLS)
def test_each_cell_kind_builds_its_torch_module_everywhere(kind: str) -> None:
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    built = [
        models.make_rnn(kind, 3, 4, 1, True, 0.0),
        bptt._make_module(kind, 3, 4, 0.0),
        longdep.FirstSymbolClassifier(kind, 5, 2, 3, 4).rnn,
        gating.demo_network(kind, embed_dim=3, hidden_size=4).rnn,
    ]
    for module in built:
        assert type(module) is cls
        assert module_kind(module) == kind
