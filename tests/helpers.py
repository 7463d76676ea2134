"""Builders the tests share: one torch thread, tiny models and checkpoints, and synthetic data
sets a tiny model learns in a few steps. Fixtures that use them live in tests/conftest.py.

Importable as ``helpers`` from any test: tests/ has no __init__.py, so pytest puts this folder
on sys.path when it loads tests/conftest.py.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import numpy as np
import pytest
import torch

from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.data import Dataset
from rnnviz.core.models import ModelConfig, TextRCNN, TextRNN, build_model
from rnnviz.core.text import PAD, UNK, Vocab

KEYS = "甲乙丙"  # the class of a keyed text is which of these it contains
NOISE = "一二三四五六七八九十"
# Word pools a tiny model separates in a few steps: class name -> the characters of its texts.
FINANCE_POOL = "股市基金银行利率上涨"
SPORTS_POOL = "球队比赛冠军进球主场"
GAME_POOL = "游戏玩家副本版本上线"


REQUIRE_DATA_ENV = "RNNVIZ_REQUIRE_DATA"


def missing(reason: str) -> NoReturn:
    """A test's data, shipped model or page file is absent: skip, saying why, on a developer's
    machine; fail where $RNNVIZ_REQUIRE_DATA=1 (.ci/run sets it), since CI always has them and
    a silent skip there would hide a broken install step."""
    if os.environ.get(REQUIRE_DATA_ENV, "").strip() not in ("", "0"):
        pytest.fail(f"{reason} (${REQUIRE_DATA_ENV} is set: CI must have it, so this fails "
                    "instead of skipping)", pytrace=False)
    pytest.skip(reason)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread, as the app runs: on a busy shared machine two threads make each of
    these tiny forward/backward passes ~100x slower (threads waiting on a busy core)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build_with_bigram_keys(config: ModelConfig) -> TextRNN | TextRCNN:
    """``build_model(config)`` in eval mode; with bigram embeddings, a random key table too (a
    model with bigrams cannot run a forward without one)."""
    model = build_model(config).eval()
    if config.bigram_vocab:
        model.set_bigram_keys(torch.randperm(config.vocab_size**2)[: config.bigram_vocab])
    return model


def tiny_checkpoint(model: str = "textrnn", seed: int = 0, **fields: object) -> Checkpoint:
    """An untrained 4-character, 2-class checkpoint ("finance", "sports") with 3 hidden units:
    it loads and predicts in milliseconds. ``fields`` are Checkpoint's optional ones (metrics,
    info, ...)."""
    torch.manual_seed(seed)
    vocab = Vocab((PAD, UNK, *"股市球赛"))
    config = ModelConfig(model=model, vocab_size=len(vocab), num_classes=2, embed_dim=4,
                         hidden_size=3, num_layers=1, rcnn_proj=3)
    return Checkpoint(build_model(config).eval(), config, vocab, ["finance", "sports"], **fields)


def keyed_dataset(n: int, seed: int, max_noise: int) -> Dataset:
    """Texts of 2..max_noise noise characters with one class key ("甲乙丙") at a random place."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        y = rng.randrange(len(KEYS))
        chars = [rng.choice(NOISE) for _ in range(rng.randint(2, max_noise))]
        chars.insert(rng.randint(0, len(chars)), KEYS[y])
        texts.append("".join(chars))
        labels.append(y)
    return Dataset(texts, labels, ["a", "b", "c"], "synthetic")


def pooled_dataset(n: int, seed: int, pools: dict[str, str]) -> Dataset:
    """Texts of 6..11 characters drawn from their class's pool (class name -> characters)."""
    rng = np.random.default_rng(seed)
    chars = list(pools.values())
    labels = rng.integers(0, len(chars), n).tolist()
    texts = ["".join(rng.choice(list(chars[y]), int(rng.integers(6, 12)))) for y in labels]
    return Dataset(texts, labels, list(pools), "synthetic")
