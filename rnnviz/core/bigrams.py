"""The character-bigram vocabulary: which bigrams of the training data get an embedding row,
and the lookup of a bigram's row.

A bigram (x_{t-1}, x_t) of token ids is the key ``prev_id * vocab_size + id`` (x_{-1} = <PAD>).
The trainer keeps the most frequent keys, sorted; the model saves them as its ``bigram_keys``
buffer and finds a key's row by bisection (row 0: a bigram not seen in training).
"""

from __future__ import annotations

from collections import Counter

import torch
from torch import Tensor

from rnnviz.core.text import PAD_ID


def bigram_keys_of(encoded: list[list[int]], vocab_size: int, min_freq: int,
                   max_size: int) -> Tensor:
    """Keys (prev_id * vocab_size + id) of the training bigrams seen at least ``min_freq``
    times, the most frequent ``max_size`` (0 = all), as a sorted LongTensor."""
    counts: Counter[int] = Counter()
    for ids in encoded:
        prev = PAD_ID
        for i in ids:
            counts[prev * vocab_size + i] += 1
            prev = i
    kept = [k for k, c in counts.most_common(max_size or None) if c >= min_freq]
    return torch.tensor(sorted(kept), dtype=torch.long)


def lookup_bigrams(sorted_keys: Tensor, keys: Tensor) -> Tensor:
    """Row of each key in ``sorted_keys`` plus one, or 0 where the key is absent."""
    if sorted_keys.numel() == 0:
        return torch.zeros_like(keys)
    pos = torch.searchsorted(sorted_keys, keys).clamp(max=sorted_keys.numel() - 1)
    return torch.where(sorted_keys[pos] == keys, pos + 1, torch.zeros_like(pos))


__all__ = ["bigram_keys_of", "lookup_bigrams"]
