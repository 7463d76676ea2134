"""The training loop: Adam, gradient-norm clipping, warm-up + cosine LR, length bucketing,
early stopping on the dev set, callbacks for progress and Stop.

Everything here runs off the UI thread; it never touches Streamlit.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from torch import nn

from rnnviz.core import distributed, precision
from rnnviz.core.bigrams import bigram_keys_of
from rnnviz.core.callbacks import TrainerCallback, TrainerControl, TrainerState
from rnnviz.core.config import DEVICES, ModelConfig, TrainConfig
from rnnviz.core.metrics import EvalReport, classification_report
from rnnviz.core.models import build_model, count_parameters
from rnnviz.core.schedule import Budget, LRSchedule
from rnnviz.core.text import PAD_ID, Tokenizer, Vocab, make_tokenizer
from rnnviz.errors import RnnVizError


class LabelledTexts(Protocol):
    texts: list[str]
    labels: list[int]
    classes: list[str]


@dataclass
class Batch:
    ids: torch.Tensor  # (B, T) long
    lengths: torch.Tensor  # (B,) long
    labels: torch.Tensor  # (B,) long

    def to(self, device: torch.device) -> Batch:
        # The lengths go too: the pooling masks are built on their device and must match the
        # outputs' (run_rnn hands pack_padded_sequence a CPU copy itself).
        return Batch(self.ids.to(device), self.lengths.to(device), self.labels.to(device))


@dataclass
class TrainResult:
    model: nn.Module  # best weights, eval mode, on CPU
    config: ModelConfig
    train_config: TrainConfig
    vocab: Vocab
    classes: list[str]
    dev_report: EvalReport | None
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"
    state: TrainerState | None = None


def resolve_device(name: str = "auto") -> torch.device:
    """auto: CUDA, then Apple MPS, then CPU. A forced device that is absent is an error."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and mps.is_available()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if has_mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RnnVizError("device 'cuda' was asked for but no CUDA GPU is available")
    if name == "mps" and not has_mps:
        raise RnnVizError("device 'mps' was asked for but Apple MPS is not available")
    if name not in DEVICES:
        raise RnnVizError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def encode_corpus(texts: Sequence[str], tokenizer: Tokenizer, vocab: Vocab,
                  max_len: int) -> list[list[int]]:
    """Ids per text, cut to ``max_len``; a text with no tokens becomes one <UNK> (never empty)."""
    out = []
    for text in texts:
        ids = vocab.encode(tokenizer(text)[:max_len])
        out.append(ids or [vocab.id("<UNK>")])
    return out


def make_batches(
    encoded: Sequence[list[int]], labels: Sequence[int], batch_size: int, *,
    shuffle: bool, bucket: bool, rng: np.random.Generator | None = None,
) -> list[Batch]:
    """Batches padded with <PAD> to their own longest text.

    Bucketing sorts texts by length within pools of 50 batches, then shuffles the batches, so
    each batch has little padding but the order stays random.
    """
    idx = np.arange(len(encoded))
    if shuffle:
        assert rng is not None
        rng.shuffle(idx)
    if bucket:
        pool = batch_size * 50
        idx = np.concatenate([
            sorted(idx[i:i + pool], key=lambda j: len(encoded[j])) for i in range(0, len(idx), pool)
        ]) if len(idx) else idx
    chunks = [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
    if shuffle:
        order = rng.permutation(len(chunks))
        chunks = [chunks[i] for i in order]
    batches = []
    for chunk in chunks:
        lengths = [len(encoded[j]) for j in chunk]
        ids = torch.full((len(chunk), max(lengths)), PAD_ID, dtype=torch.long)
        for row, j in enumerate(chunk):
            ids[row, : lengths[row]] = torch.tensor(encoded[j], dtype=torch.long)
        batches.append(Batch(ids, torch.tensor(lengths), torch.tensor([labels[j] for j in chunk])))
    return batches


@torch.inference_mode()
def evaluate_batches(
    model: nn.Module, batches: Sequence[Batch], classes: list[str], device: torch.device,
) -> EvalReport:
    """Loss, accuracy, per-class scores and the confusion matrix over ``batches``."""
    start = time.perf_counter()
    was_training = model.training
    model.eval()
    total_loss, y_true, y_pred = 0.0, [], []
    for batch in batches:
        b = batch.to(device)
        with precision.autocast(device):  # bf16 on CUDA, as in training
            logits = model(b.ids, b.lengths)
        total_loss += nn.functional.cross_entropy(logits, b.labels, reduction="sum").item()
        y_true.append(batch.labels.numpy())
        y_pred.append(logits.argmax(-1).cpu().numpy())
    model.train(was_training)
    n = sum(len(y) for y in y_true)
    if n == 0:
        raise RnnVizError("nothing to evaluate: the dataset is empty")
    return classification_report(
        np.concatenate(y_true), np.concatenate(y_pred), classes,
        loss=total_loss / n, seconds=time.perf_counter() - start,
    )


def param_groups(model: nn.Module, lr: float, embed_lr_scale: float = 1.0) -> list[dict]:
    """Adam's parameter groups: the embedding tables (token and bigram) at ``lr`` x
    ``embed_lr_scale``, the rest at ``lr`` (the first group: the LR the history records).

    Why a larger step for the embeddings: their rows start at N(0, 1) and Adam moves each
    coordinate by about ``lr`` per step in which the row is used, so in a short run a bigram
    seen a few dozen times keeps nearly its random start (issue 15: x10 took a one-minute run
    from ~85.5 % to ~89 % dev accuracy; bench/class_training.py).
    """
    if embed_lr_scale == 1.0:
        return [{"params": list(model.parameters())}]
    tables = [p for name, p in model.named_parameters()
              if name.startswith(("embedding.", "bigram."))]
    chosen = {id(p) for p in tables}
    rest = [p for p in model.parameters() if id(p) not in chosen]
    return [{"params": rest}, {"params": tables, "lr": lr * embed_lr_scale}]


def build_vocab(texts: Sequence[str], tokenizer: Tokenizer, min_freq: int, max_vocab: int) -> Vocab:
    return Vocab.build((tokenizer(t) for t in texts), min_freq=min_freq, max_size=max_vocab or None)


def train(
    model_config: ModelConfig,
    train_config: TrainConfig,
    train_data: LabelledTexts,
    dev_data: LabelledTexts | None = None,
    callbacks: Sequence[TrainerCallback] = (),
    control: TrainerControl | None = None,
    *,
    started_at: float | None = None,
) -> TrainResult:
    """Train a classifier; returns the best-on-dev weights (or the last, without a dev set).

    ``model_config.vocab_size`` and ``num_classes`` are filled in from the data.
    Setting ``control.should_stop`` (the Stop button) ends the run at the next step and keeps
    the best checkpoint seen so far. ``tc.time_budget_s`` counts from ``started_at`` (a
    ``time.monotonic()`` reading: when the user asked for the run; default now) and includes
    the final evaluation (rnnviz/core/schedule.py). With ``tc.dev_sample``, evaluations during
    the run score a random sample of the dev set, and the kept weights the whole of it.
    """
    tc = train_config
    if len(train_data.texts) == 0:
        raise RnnVizError("the training set is empty")
    if dev_data is not None and list(dev_data.classes) != list(train_data.classes):
        raise RnnVizError("train and dev sets have different class lists")
    seed_everything(tc.seed)
    dist_ctx = distributed.context()  # one process, or this rank of a torchrun group
    device = dist_ctx.place(resolve_device(tc.device))
    control = dist_ctx.agreed(control or TrainerControl())
    start = time.perf_counter()

    tokenizer = make_tokenizer(model_config.tokenizer)
    vocab = build_vocab(train_data.texts, tokenizer, tc.min_freq, tc.max_vocab)
    classes = list(train_data.classes)
    train_ids = encode_corpus(train_data.texts, tokenizer, vocab, tc.max_train_len)
    bigram_keys = None
    if model_config.bigram_dim:
        bigram_keys = bigram_keys_of(train_ids, len(vocab), tc.bigram_min_freq, tc.max_bigrams)
    config = ModelConfig(**{
        **model_config.to_dict(), "vocab_size": len(vocab), "num_classes": len(classes),
        "bigram_vocab": 0 if bigram_keys is None else int(bigram_keys.numel()),
    })
    model = build_model(config)
    if bigram_keys is not None and bigram_keys.numel():
        model.set_bigram_keys(bigram_keys)
    model = model.to(device)
    net = dist_ctx.wrap(model, tc.seed)  # DDP across ranks; ``model`` itself in one process

    rng = np.random.default_rng(tc.seed)
    dev_batches = []
    if dev_data is not None and len(dev_data.texts) and dist_ctx.is_main:  # rank 0 evaluates
        dev_ids = encode_corpus(dev_data.texts, tokenizer, vocab, tc.max_train_len)
        dev_batches = make_batches(dev_ids, dev_data.labels, 512, shuffle=False, bucket=True)
    full_dev_batches = dev_batches
    if dev_batches and 0 < tc.dev_sample < len(dev_ids):
        # Its own generator: the training batches stay the same with or without a sample.
        keep = np.random.default_rng(tc.seed).choice(len(dev_ids), tc.dev_sample, replace=False)
        dev_batches = make_batches([dev_ids[i] for i in keep],
                                   [dev_data.labels[i] for i in keep], 512, shuffle=False,
                                   bucket=True)
    budget = None
    if tc.time_budget_s:
        n_dev, n_sample = sum(len(b.labels) for b in full_dev_batches), 0
        if full_dev_batches is not dev_batches:
            n_sample = sum(len(b.labels) for b in dev_batches)
        # Kept back: the dev sample scored at the stop, then the whole dev set.
        budget = Budget(tc.time_budget_s, time.monotonic() if started_at is None else started_at,
                        final_eval_examples=n_dev + n_sample)

    global_batch = tc.batch_size * dist_ctx.world_size  # batch_size is per process
    steps_per_epoch = math.ceil(len(train_ids) / global_batch)
    total = tc.max_steps or tc.epochs * steps_per_epoch
    eval_every = tc.eval_every or (0 if tc.eval_every_s else steps_per_epoch)
    optimizer = torch.optim.Adam(param_groups(model, tc.lr, tc.embed_lr_scale), lr=tc.lr,
                                 weight_decay=tc.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, LRSchedule(total, tc.warmup_steps, tc.schedule, budget))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=tc.label_smoothing)

    state = TrainerState(total_steps=total, epochs=math.ceil(total / steps_per_epoch),
                         device=str(device))
    best_state: dict | None = None
    best_report: EvalReport | None = None
    evals_since_best = 0
    window_loss, window_correct, window_n = 0.0, 0, 0
    for cb in callbacks:
        cb.on_train_begin(state, control)

    def run_eval() -> None:
        nonlocal best_state, best_report, evals_since_best, window_loss, window_correct, window_n
        record = {
            "step": state.step, "epoch": round(state.epoch, 4),
            "elapsed_s": round(time.perf_counter() - start, 3),
            "train_loss": window_loss / max(1, window_n),
            "train_accuracy": window_correct / max(1, window_n),
            "lr": optimizer.param_groups[0]["lr"],
        }
        window_loss, window_correct, window_n = 0.0, 0, 0
        if dev_batches:
            report = evaluate_batches(model, dev_batches, classes, device)
            if budget is not None:
                budget.evaluated(report.n, report.seconds)
            record.update(dev_loss=report.loss, dev_accuracy=report.accuracy,
                          dev_macro_f1=report.macro.f1)
            if report.accuracy > state.best_dev_accuracy:
                state.best_dev_accuracy, state.best_step = report.accuracy, state.step
                best_state = copy.deepcopy(model.state_dict())
                best_report = report
                evals_since_best = 0
            else:
                evals_since_best += 1
        state.history.append(record)
        state.last_eval = record
        if dev_batches:
            for cb in callbacks:
                cb.on_evaluate(state, control)
        if dev_batches and tc.patience and evals_since_best >= tc.patience:
            control.stop(f"early stopping: no dev improvement in {tc.patience} evaluations")

    model.train()
    if budget is not None:
        budget.start_training()
    last_eval_s = time.perf_counter()
    while state.step < total and not control.should_stop:
        for batch in dist_ctx.batches(make_batches(train_ids, train_data.labels, global_batch,
                                                   shuffle=True, bucket=tc.bucket, rng=rng),
                                      control, optimizer):
            if state.step >= total or control.should_stop:
                break
            b = batch.to(device)
            with precision.autocast(device):
                logits = net(b.ids, b.lengths)
                loss = loss_fn(logits, b.labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if tc.clip_norm > 0:
                nn.utils.clip_grad_norm_(model.parameters(), tc.clip_norm)
            optimizer.step()
            scheduler.step()

            n = len(batch.labels)
            window_loss += loss.item() * n
            window_correct += int((logits.argmax(-1) == b.labels).sum())
            window_n += n
            state.step += 1
            state.epoch = state.step / steps_per_epoch
            state.elapsed_s = time.perf_counter() - start
            state.samples_per_s = state.step * global_batch / max(1e-9, state.elapsed_s)
            state.eta_s = state.elapsed_s / state.step * (total - state.step)
            if budget is not None:
                budget.trained(n)
                state.eta_s = max(0.0, min(state.eta_s, budget.remaining_s()))
            state.loss = window_loss / window_n
            state.train_accuracy = window_correct / window_n
            for cb in callbacks:
                cb.on_step_end(state, control)
            now = time.perf_counter()
            if ((eval_every and state.step % eval_every == 0) or state.step == total
                    or (tc.eval_every_s and now - last_eval_s >= tc.eval_every_s)):
                run_eval()
                last_eval_s = now
            if budget is not None and budget.expired() and not control.should_stop:
                control.stop(f"time budget of {tc.time_budget_s:.0f}s reached")
    if window_n and (not state.history or state.history[-1]["step"] != state.step):
        run_eval()  # stopped between evaluations: score what we have before choosing the best

    if control.should_stop:
        state.stopped_early = state.step < total
        state.stop_reason = control.reason
    if best_state is not None:
        model.load_state_dict(best_state)
        if full_dev_batches is not dev_batches:  # the kept weights, scored on the whole dev set
            best_report = evaluate_batches(model, full_dev_batches, classes, device)
            state.best_dev_accuracy = best_report.accuracy
    model.eval().cpu()
    state.elapsed_s = time.perf_counter() - start
    for cb in callbacks:
        cb.on_train_end(state, control)
    return TrainResult(
        model=model, config=config, train_config=tc, vocab=vocab, classes=classes,
        dev_report=best_report, history=state.history, seconds=state.elapsed_s,
        device=str(device), state=state,
    )


__all__ = ["TrainConfig", "TrainResult", "train", "resolve_device", "make_batches",
           "evaluate_batches", "encode_corpus", "count_parameters"]
