"""The course's Text-RNN (a 2-layer GRU read to the last step, FC-ReLU-FC): the ``fc_hidden``
setting, the model it builds, its checkpoint round trip, the predictor and trace on it, and the
shipped file assets/models/textgru.safetensors."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from torch import nn

from rnnviz.cli import MODEL_OPTIONS, main
from rnnviz.core.checkpoint import Checkpoint, load_checkpoint
from rnnviz.core.config import ModelConfig
from rnnviz.core.models import build_model
from rnnviz.core.predict import Predictor
from rnnviz.core.text import Vocab, make_tokenizer
from rnnviz.core.trace import trace_module
from rnnviz.errors import RnnVizError
from rnnviz.lessons.ablation import COURSE_MODEL
from rnnviz.paths import MODELS_DIR

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_test")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHIPPED = MODELS_DIR / "textgru.safetensors"
TEXT = "国足主帅谈世界杯预选赛：我们还有机会"


def _metadata(data: bytes) -> dict:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n])["__metadata__"]


def _course(**overrides: object) -> ModelConfig:
    small = dict(embed_dim=6, hidden_size=5, fc_hidden=7, vocab_size=len(_vocab()),
                 num_classes=3)
    return ModelConfig(**{**COURSE_MODEL, **small, **overrides})


def _vocab() -> Vocab:
    return Vocab.build([make_tokenizer("char")(TEXT)])


@pytest.mark.parametrize("value", [-1, 2.5, True, "128", None])
def test_fc_hidden_refuses_bad_values_naming_the_field(value: object) -> None:
    with pytest.raises(RnnVizError, match="integer >= 0") as info:
        ModelConfig(fc_hidden=value)
    assert info.value.where == "config.fc_hidden"


def test_fc_hidden_has_a_checked_cli_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert MODEL_OPTIONS["--fc-hidden"][0] == "fc_hidden"
    with pytest.raises(SystemExit) as info:
        main(["train", "--model", "textrnn", "--fc-hidden", "-3"])
    assert info.value.code == 2
    assert "argument --fc-hidden: must be an integer >= 0, got -3" in capsys.readouterr().err


def test_the_course_head_is_fc_relu_fc_on_the_last_state() -> None:
    torch.manual_seed(0)
    model = build_model(_course()).eval()
    assert [type(m) for m in model.fc] == [nn.Linear, nn.Dropout, nn.ReLU, nn.Linear]
    assert model.fc[1].p == pytest.approx(0.2)  # the course's keep_prob 0.8
    ids = torch.tensor([[2, 3, 4, 5, 0, 0], [6, 7, 8, 9, 10, 11]])
    lengths = torch.tensor([4, 6])
    with torch.no_grad():
        logits = model(ids, lengths)
        for b in range(2):  # by hand: the GRU over the real tokens, its top state, the head
            _, h_n = model.rnn(model.embedding(ids[b:b + 1, :lengths[b]]))
            fc1, fc2 = model.fc[0], model.fc[3]
            want = fc2(torch.relu(fc1(h_n[-1, 0])))
            torch.testing.assert_close(logits[b], want, rtol=1e-5, atol=1e-6)


def test_fc_hidden_zero_keeps_the_single_linear_layer_and_its_key_names() -> None:
    model = build_model(ModelConfig(vocab_size=10, bigram_dim=0))
    assert isinstance(model.fc, nn.Linear)
    assert {"fc.weight", "fc.bias"} <= set(model.state_dict())
    rcnn = build_model(ModelConfig.for_model("textrcnn", vocab_size=10, fc_hidden=9))
    assert rcnn.fc[0].in_features == rcnn.config.rcnn_proj and rcnn.fc[3].in_features == 9


@pytest.mark.parametrize("name", ["old_cli_textrnn", "old_job_textrcnn"])
def test_checkpoints_saved_before_fc_hidden_load_with_one_linear_layer(name: str) -> None:
    data = (FIXTURES / f"{name}.safetensors").read_bytes()
    assert "fc_hidden" not in json.loads(_metadata(data)["config"])
    checkpoint = load_checkpoint(data, name=name)
    assert checkpoint.config.fc_hidden == 0 and isinstance(checkpoint.model.fc, nn.Linear)
    # Saved again, the config JSON is the same as before: nothing new is written.
    assert _metadata(checkpoint.to_bytes())["config"] == _metadata(data)["config"]


def test_a_textgru_checkpoint_round_trips_and_predicts_with_its_trace(tmp_path: Path) -> None:
    torch.manual_seed(1)
    config = _course()
    model = build_model(config).eval()
    path = Checkpoint(model=model, config=config, vocab=_vocab(),
                      classes=["a", "b", "c"]).save(tmp_path / "textgru.safetensors")
    loaded = load_checkpoint(path)
    assert loaded.config == config and loaded.config.fc_hidden == 7
    assert json.loads(_metadata(path.read_bytes())["config"])["fc_hidden"] == 7
    for key, tensor in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], tensor), key
    pred = Predictor(loaded).predict(TEXT)
    with torch.no_grad():
        ids = torch.tensor([_vocab().encode(make_tokenizer("char")(TEXT))])
        probs = torch.softmax(model(ids, torch.tensor([ids.shape[1]]))[0], -1)
        reference = trace_module(model.rnn, model.embed(ids))
    assert list(pred.probabilities.values()) == pytest.approx(probs.tolist(), abs=1e-6)
    assert [(t.layer, t.direction, t.kind) for t in pred.layers] == [
        (0, "forward", "gru"), (1, "forward", "gru")]
    for got, want in zip(pred.layers, reference.layers, strict=True):
        torch.testing.assert_close(torch.from_numpy(got.states["h"]), want.states["h"][0],
                                   rtol=1e-4, atol=1e-5)


def test_a_checkpoint_whose_weights_do_not_fit_fc_hidden_is_refused(tmp_path: Path) -> None:
    config = _course()
    data = Checkpoint(model=build_model(config).eval(), config=config, vocab=_vocab(),
                      classes=["a", "b", "c"]).to_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header["__metadata__"]["config"] = json.dumps({**config.to_dict(), "fc_hidden": 0})
    raw = json.dumps(header).encode()
    with pytest.raises(RnnVizError, match="do not fit the textrnn"):
        load_checkpoint(struct.pack("<Q", len(raw)) + raw + data[8 + n:])


# ---- the shipped file ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> Checkpoint:
    if not SHIPPED.is_file():
        pytest.fail(f"the shipped course model {SHIPPED} is missing")
    return load_checkpoint(SHIPPED)


def test_the_shipped_textgru_is_the_course_model_and_small(shipped: Checkpoint) -> None:
    assert SHIPPED.stat().st_size < 10 * 2**20
    c = shipped.config
    for key, value in COURSE_MODEL.items():
        assert getattr(c, key) == value, key
    assert shipped.metrics is not None and shipped.metrics["n"] == 10_000
    assert shipped.info.get("data_source", {}) is not None
