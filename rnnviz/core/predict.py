"""Use a trained classifier: the label, the probabilities, every gate at every token, and which
tokens pushed the decision.

One ``Predictor`` is shared by every session of the app (loaded once), so ``predict`` keeps no
state on the object between calls and never touches the model's parameters' gradients: the
parameters are frozen once at load and importance is taken with ``torch.autograd.grad`` with
respect to the embedding vectors of this one call only.

Importance is gradient x input (Simonyan et al. 2014; Shrikumar et al. 2016): for the
predicted class k and each token t, sum_e  d logit_k / d e_{t,e} * e_{t,e}. Positive tokens
pushed towards k, negative ones away from it.

Two paths to the same gates. ``rnnviz.core.trace.trace_module`` replays the recurrent module
step by step through the readable cells of ``rnnviz.core.cells``: the reference the teaching
pages show, but its Python loop over time is too slow to run at every keystroke (the README
holds the figures of bench/trace_latency.py). So ``predict`` uses ``rnnviz.core.fasttrace``:
torch's own kernels run the recurrent module one layer at a time, and that single forward gives
the logits, the importance backward and every layer's h_t; the same cell functions then
recompute every gate for all steps in one call (tests/test_fasttrace.py checks it against
trace_module).

Where it runs: ``predict`` (one text, with its trace and importance: what the app does at every
keystroke) always runs on the CPU, and so does the model every session shares: a title is one
sequence of 20-300 steps, where a GPU would wait on a kernel launch and a copy at every step
and the CPU answers first (bench/gpu_check.sh measures both). ``predict_many`` sends a batch of
at least ``GPU_MIN_TEXTS`` texts to a CUDA GPU when there is one (``device="auto"``), on a
private copy of the model, in float32 (the probabilities match the CPU's to rounding);
``device="cpu"`` or ``"cuda"`` decide by hand.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnviz.core.checkpoint import Checkpoint, load_checkpoint
from rnnviz.core.fasttrace import NativeLayers, replay_gates, run_native_layers
from rnnviz.core.text import PAD_ID, UNK_ID, encode_text, make_tokenizer
from rnnviz.core.train import resolve_device
from rnnviz.errors import RnnVizError

_DIGITS = 5  # JSON floats: enough for any plot, a fraction of the bytes
# predict_many's batches this large go to a CUDA GPU when there is one (the module docstring
# says why smaller ones stay on the CPU; bench/gpu_check.sh measures where the GPU wins).
GPU_MIN_TEXTS = 1024


def batch_device(n_texts: int, device: str = "auto") -> torch.device:
    """Where ``predict_many`` runs ``n_texts`` texts: "auto" = CUDA for at least
    ``GPU_MIN_TEXTS`` texts when a GPU is present, else the CPU; or the device named."""
    if device == "auto":
        big = n_texts >= GPU_MIN_TEXTS and torch.cuda.is_available()
        return torch.device("cuda" if big else "cpu")
    return resolve_device(device)


@dataclass
class TokenTrace:
    """Every gate of one layer and direction over the tokens of one text."""

    layer: int
    direction: str  # "forward" | "backward"
    kind: str  # "lstm" | "gru" | "rnn"
    states: dict[str, np.ndarray]  # gate/state name -> (T, H) float32, in cells.GATES order
    hidden_norm: np.ndarray  # (T,) ||h_t||_2


@dataclass
class Prediction:
    text: str
    tokens: list[str]
    unknown: list[bool]  # the token is not in the vocabulary (the model saw <UNK>)
    truncated: bool  # the text had more than max_tokens tokens; only the first ones were read
    total_tokens: int
    max_tokens: int
    label: str
    label_index: int
    probabilities: dict[str, float]  # class name -> probability, in class order
    layers: list[TokenTrace]  # empty when with_trace=False
    importance: np.ndarray  # (T,) signed gradient x input for the predicted class, max |.| = 1
    seconds: float

    def to_json(self) -> dict:
        """Plain JSON types only (what ``rnnviz predict --json`` prints)."""
        importance = _floats(self.importance)
        return {
            "label": self.label,
            "label_index": self.label_index,
            "probabilities": {k: round(float(v), _DIGITS) for k, v in self.probabilities.items()},
            "tokens": list(self.tokens),
            "unknown": list(self.unknown),
            "truncated": self.truncated,
            "total_tokens": self.total_tokens,
            "max_tokens": self.max_tokens,
            "importance": importance,
            "trace": [
                {
                    "layer": t.layer,
                    "direction": t.direction,
                    "kind": t.kind,
                    "gates": {name: _floats(s) for name, s in t.states.items()},
                    "hidden_norm": _floats(t.hidden_norm),
                    # The token importance (one per text), repeated so each entry stands alone.
                    "importance": importance,
                }
                for t in self.layers
            ],
            "seconds": round(self.seconds, 4),
        }


def _floats(a: np.ndarray) -> list:
    return np.round(np.asarray(a, dtype=np.float64), _DIGITS).tolist()


class Predictor:
    """A loaded checkpoint ready to classify; safe to share between threads.

    It freezes ``checkpoint.model`` (eval mode, parameters without gradients): hand it a
    model that is not going to be trained any further.
    """

    def __init__(self, checkpoint: Checkpoint, name: str = "") -> None:
        self.checkpoint = checkpoint
        self.config = checkpoint.config
        self.classes = list(checkpoint.classes)
        self.name = name
        self.vocab = checkpoint.vocab
        self.tokenizer = make_tokenizer(self.config.tokenizer)
        self.model = checkpoint.model.eval()
        # Frozen once here: concurrent predictions then never write .grad on shared tensors.
        self.model.requires_grad_(False)
        self._copies: dict[str, torch.nn.Module] = {}  # device -> the model moved there
        self._copies_lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path) -> Predictor:
        return cls(load_checkpoint(path), name=Path(path).name)

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> Predictor:
        return cls(load_checkpoint(data, name=name), name=name)

    def predict(self, text: str, *, with_trace: bool = True) -> Prediction:
        """Classify one text; with_trace adds every gate of every layer at every token.

        Raises RnnVizError for text with no tokens (empty, spaces, control characters).
        """
        start = time.perf_counter()
        encoded = encode_text(text, self.tokenizer, self.vocab, self.config.max_len)
        # Autograd on, whatever the caller's mode: importance needs one backward pass (and the
        # inputs are made inside, so they are never inference tensors autograd cannot save).
        with torch.inference_mode(False), torch.enable_grad():
            ids = torch.tensor([encoded.ids], dtype=torch.long)  # (1, T)
            lengths = torch.tensor([len(encoded.ids)])
            emb = self.model.embed(ids).detach().requires_grad_(True)  # (1, T, E), a fresh leaf
            logits, native = self._classify_keeping_layers(emb, lengths)
            logits = logits[0]  # (C,)
            k = int(logits.argmax())
            (grad,) = torch.autograd.grad(logits[k], emb)
        probs = torch.softmax(logits.detach(), dim=-1)
        importance = (grad * emb.detach()).sum(-1)[0]  # (T,)
        scale = float(importance.abs().max())
        if scale > 0:
            importance = importance / scale
        layers = self._trace(native) if with_trace else []
        return Prediction(
            text=text, tokens=list(encoded.tokens), unknown=[i == UNK_ID for i in encoded.ids],
            truncated=encoded.truncated, total_tokens=encoded.total_tokens,
            max_tokens=self.config.max_len, label=self.classes[k], label_index=k,
            probabilities={c: float(p) for c, p in zip(self.classes, probs.tolist(), strict=True)},
            layers=layers, importance=importance.numpy().astype(np.float32),
            seconds=time.perf_counter() - start,
        )

    def _classify_keeping_layers(
        self, emb: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, NativeLayers]:
        """The model's own ``classify`` (logits (1, C)), its recurrent pass run layer by layer
        so that every layer's h_t is kept for the trace: one forward serves both.

        The recurrent pass is swapped on a shallow copy of the model: the copy shares every
        submodule and parameter, and its own ``run_rnn`` lives in the copy's instance dict only,
        so the shared model and concurrent predictions are untouched. (Eval mode: no dropout,
        as run_native_layers assumes.)
        """
        kept: list[NativeLayers] = []

        def run_rnn(e: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            native = run_native_layers(self.model.rnn, e, lengths)
            kept.append(native)
            return native.output, native.h_n  # what _Classifier.run_rnn returns

        model = copy.copy(self.model)
        model.run_rnn = run_rnn
        logits = model.classify(emb, lengths)
        (native,) = kept
        return logits, native

    def _trace(self, native: NativeLayers) -> list[TokenTrace]:
        """Every gate from the h_t of the forward behind this prediction (eval: no dropout)."""
        with torch.inference_mode():
            trace = replay_gates(self.model.rnn, native)
        out = []
        for layer in trace.layers:
            states = {name: s[0].detach().numpy().astype(np.float32, copy=False)
                      for name, s in layer.states.items()}
            out.append(TokenTrace(
                layer=layer.layer, direction=layer.direction, kind=layer.kind, states=states,
                hidden_norm=np.linalg.norm(states["h"], axis=-1).astype(np.float32),
            ))
        return out

    def _model_on(self, device: torch.device) -> torch.nn.Module:
        """The model on ``device``: the shared CPU one, or a copy made once per device (the
        shared model never moves: other sessions are using it)."""
        if device.type == "cpu":
            return self.model
        with self._copies_lock:
            model = self._copies.get(str(device))
            if model is None:
                model = self._copies[str(device)] = copy.deepcopy(self.model).to(device)
        return model

    def predict_many(
        self, texts: list[str], batch_size: int = 256, device: str = "auto"
    ) -> list[tuple[str, dict[str, float]]]:
        """(label, probabilities) per text, batched and without trace or importance.

        Texts are batched by length (less padding), results come back in the input order.
        ``device``: "auto" follows ``batch_device`` (a large batch goes to the GPU).
        """
        if batch_size < 1:
            raise RnnVizError("batch_size must be at least 1", where="batch_size")
        encoded = []
        for i, text in enumerate(texts):
            try:
                encoded.append(
                    encode_text(text, self.tokenizer, self.vocab, self.config.max_len).ids)
            except RnnVizError as exc:
                raise RnnVizError(str(exc), where=f"text {i + 1}") from None
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        results: list[tuple[str, dict[str, float]] | None] = [None] * len(encoded)
        where = batch_device(len(encoded), device)
        model = self._model_on(where)
        with torch.inference_mode():
            for s in range(0, len(order), batch_size):
                chunk = order[s : s + batch_size]
                lengths = torch.tensor([len(encoded[i]) for i in chunk])
                ids = torch.full((len(chunk), int(lengths.max())), PAD_ID, dtype=torch.long)
                for row, i in enumerate(chunk):
                    ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
                logits = model(ids.to(where), lengths.to(where))
                probs = torch.softmax(logits.float(), dim=-1).tolist()
                for row, i in enumerate(chunk):
                    p = dict(zip(self.classes, probs[row], strict=True))
                    results[i] = (max(p, key=p.__getitem__), p)
        return results  # type: ignore[return-value]


__all__ = ["GPU_MIN_TEXTS", "Prediction", "Predictor", "TokenTrace", "batch_device"]
