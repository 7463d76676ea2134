"""TextRNN and TextRCNN classifiers, built from a ``ModelConfig`` (rnnviz/core/config.py).

TextRNN: embedding -> RNN/LSTM/GRU over time (shared weights at every step) -> pooling over the
real tokens (last, mean, max or mean+max) -> fully connected (one layer, or FC-ReLU-FC with
``fc_hidden``) -> logits.
TextRCNN (Lai et al., AAAI 2015): a bidirectional RNN gives each token its left and right
context; [c_left; e; c_right] -> linear + tanh -> max-pool over time -> fully connected.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnviz.core.bigrams import lookup_bigrams
from rnnviz.core.cells import NN_MODULES
from rnnviz.core.config import ModelConfig
from rnnviz.core.text import PAD_ID
from rnnviz.errors import RnnVizError


def make_rnn(cell: str, input_size: int, hidden_size: int, num_layers: int,
             bidirectional: bool, dropout: float) -> nn.RNNBase:
    return NN_MODULES[cell](
        input_size, hidden_size, num_layers=num_layers, batch_first=True,
        bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0,
    )


def valid_mask(lengths: Tensor, max_len: int) -> Tensor:
    """(B, T) bool: True on real tokens, False on padding."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def make_head(width: int, config: ModelConfig) -> nn.Module:
    """The classifier on top of the pooled vector: one linear layer V (``fc_hidden`` = 0), or
    the course's FC -> dropout -> ReLU -> FC (gaussic/text-classification-cnn-rnn's TextRNN).

    The single layer keeps the name ``fc`` and its keys ``fc.weight``/``fc.bias``, so every
    checkpoint saved before ``fc_hidden`` existed loads unchanged.
    """
    if not config.fc_hidden:
        return nn.Linear(width, config.num_classes)
    return nn.Sequential(
        nn.Linear(width, config.fc_hidden), nn.Dropout(config.dropout), nn.ReLU(),
        nn.Linear(config.fc_hidden, config.num_classes),
    )


class _Classifier(nn.Module):
    """What both models share: the token embedding (+ bigram embedding) and the recurrent pass."""

    def __init__(self, config: ModelConfig, bidirectional: bool) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=PAD_ID)
        self.bigram: nn.Embedding | None = None
        if config.bigram_dim and config.bigram_vocab:
            # Row 0 is the unknown bigram (a zero vector); rows 1..K follow ``bigram_keys``.
            self.bigram = nn.Embedding(config.bigram_vocab + 1, config.bigram_dim, padding_idx=0)
            # Sorted keys prev_id * vocab_size + id of the known bigrams, saved with the weights.
            self.register_buffer("bigram_keys", torch.zeros(config.bigram_vocab, dtype=torch.long))
        self.embed_dropout = nn.Dropout(config.embed_dropout)
        self.rnn = make_rnn(config.cell, config.input_size, config.hidden_size, config.num_layers,
                            bidirectional, config.dropout)
        self.dropout = nn.Dropout(config.dropout)

    def embed(self, ids: Tensor) -> Tensor:
        """(B, T) ids -> (B, T, E [+ E_bigram]) vectors the RNN reads (before dropout)."""
        e = self.embedding(ids)
        if self.bigram is None:
            return e
        # Character bigrams carry word-like cues ("股市", "球员") without a segmenter: the
        # biggest single gain on THUCNews (README, "What each change bought").
        return torch.cat([e, self.bigram(self.bigram_ids(ids))], dim=-1)

    def bigram_ids(self, ids: Tensor) -> Tensor:
        """(B, T) token ids -> (B, T) bigram rows; 0 for a bigram not seen in training."""
        prev = torch.nn.functional.pad(ids[:, :-1], (1, 0), value=PAD_ID)  # x_{-1} = <PAD>
        return lookup_bigrams(self.bigram_keys, prev * self.config.vocab_size + ids)

    def set_bigram_keys(self, keys: Tensor) -> None:
        keys = torch.as_tensor(keys, dtype=torch.long).sort().values
        if keys.numel() != self.config.bigram_vocab:
            raise RnnVizError(f"expected {self.config.bigram_vocab} bigram keys, "
                              f"got {keys.numel()}")
        self.bigram_keys.copy_(keys)

    def run_rnn(self, emb: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Recurrent pass over the real tokens only. Returns outputs (B, T, D*H) and h_n."""
        T = emb.shape[1]
        if bool((lengths == T).all()):
            out, state = self.rnn(emb)  # nothing padded: skip the packing overhead
        else:
            packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True,
                                          enforce_sorted=False)
            out, state = self.rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        h_n = state[0] if isinstance(state, tuple) else state
        return out, h_n

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """(B, T) ids, (B,) lengths -> (B, C) logits."""
        return self.classify(self.embed(ids), lengths)

    def classify(self, emb: Tensor, lengths: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class TextRNN(_Classifier):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config, config.bidirectional)
        width = config.hidden_size * config.directions
        self.fc = make_head(width * (2 if config.pooling == "meanmax" else 1), config)

    def pooled(self, emb: Tensor, lengths: Tensor) -> Tensor:
        out, h_n = self.run_rnn(self.embed_dropout(emb), lengths)  # (B, T, D*H)
        pooling = self.config.pooling
        if pooling == "last":
            # h_n holds each direction's state after its last real token: the forward one at
            # t = len-1, the backward one at t = 0.
            D = self.config.directions
            return torch.cat([h_n[-D + d] for d in range(D)], dim=-1)
        mask = valid_mask(lengths, out.shape[1]).unsqueeze(-1)  # (B, T, 1)
        mean = (out * mask).sum(1) / lengths.clamp(min=1).unsqueeze(-1).to(out.dtype)
        if pooling == "mean":
            return mean
        mx = out.masked_fill(~mask, float("-inf")).max(1).values
        return mx if pooling == "max" else torch.cat([mean, mx], dim=-1)

    def classify(self, emb: Tensor, lengths: Tensor) -> Tensor:
        return self.fc(self.dropout(self.pooled(emb, lengths)))


class TextRCNN(_Classifier):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config, bidirectional=True)
        H, E = config.hidden_size, config.input_size
        self.proj = nn.Linear(2 * H + E, config.rcnn_proj)
        self.fc = make_head(config.rcnn_proj, config)

    def token_features(self, emb: Tensor, lengths: Tensor) -> Tensor:
        """y_t = tanh(W [c_left(t); e_t; c_right(t)] + b), (B, T, P)."""
        emb = self.embed_dropout(emb)
        out, _ = self.run_rnn(emb, lengths)
        H = self.config.hidden_size
        left, right = out[..., :H], out[..., H:]
        return torch.tanh(self.proj(torch.cat([left, emb, right], dim=-1)))

    def classify(self, emb: Tensor, lengths: Tensor) -> Tensor:
        y = self.token_features(emb, lengths)
        mask = valid_mask(lengths, y.shape[1]).unsqueeze(-1)
        pooled = y.masked_fill(~mask, float("-inf")).max(1).values  # max over real tokens only
        return self.fc(self.dropout(pooled))


def build_model(config: ModelConfig) -> TextRNN | TextRCNN:
    return TextRNN(config) if config.model == "textrnn" else TextRCNN(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
