"""Text normalisation, tokenisers and the vocabulary.

The same ``normalize`` runs at training and prediction time, so a full-width "ＡＢＣ１２３"
typed by a student meets the same ids as the half-width "ABC123" seen in training.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from rnnviz.core.config import TOKENIZERS
from rnnviz.errors import RnnVizError

PAD = "<PAD>"
UNK = "<UNK>"
PAD_ID = 0
UNK_ID = 1

_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC (full-width -> half-width), drop control/format characters, fold whitespace.

    U+FFFD (a character lost in the public THUCNews copy) is kept as an ordinary character.
    """
    # Dropped first: a lone surrogate or a control character between a letter and its combining
    # mark would stop NFKC composing them, and the result would not be normalised.
    # Cc = control, Cf = format (zero-width joiners, BOM, bidi marks), Cs = lone surrogates.
    kept = "".join(
        " " if ch in "\t\n\r\x0b\x0c" else ch
        for ch in text
        if ch in "\t\n\r\x0b\x0c" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
    )
    # Lower-casing can undo a composition (e.g. "İ" -> "i" + combining dot): normalise again.
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", kept).lower())
    return _SPACES.sub(" ", text).strip()


class Tokenizer(Protocol):
    name: str

    def __call__(self, text: str) -> list[str]: ...


class CharTokenizer:
    """One token per character; whitespace separates but is not itself a token."""

    name = "char"

    def __call__(self, text: str) -> list[str]:
        return [ch for ch in normalize(text) if not ch.isspace()]


class WordTokenizer:
    """Words from jieba (precise mode); jieba's dictionary loads once, on first use."""

    name = "word"

    def __call__(self, text: str) -> list[str]:
        import jieba  # deferred: loading its dictionary is slow

        jieba.setLogLevel(60)  # its INFO lines about the prefix dict would flood the CLI
        return [w for w in jieba.lcut(normalize(text)) if w.strip()]


def make_tokenizer(name: str) -> Tokenizer:
    if name == "char":
        return CharTokenizer()
    if name == "word":
        return WordTokenizer()
    raise RnnVizError(f"unknown tokenizer {name!r}; choose one of {', '.join(TOKENIZERS)}")


@dataclass(frozen=True)
class Vocab:
    """Token <-> id; id 0 is <PAD>, id 1 is <UNK>."""

    itos: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.itos) < 2 or self.itos[PAD_ID] != PAD or self.itos[UNK_ID] != UNK:
            raise RnnVizError("vocabulary must start with <PAD>, <UNK>")
        if len(set(self.itos)) != len(self.itos):
            raise RnnVizError("vocabulary has duplicate tokens")
        object.__setattr__(self, "_stoi", {t: i for i, t in enumerate(self.itos)})

    @classmethod
    def build(
        cls, token_lists: Iterable[Sequence[str]], *, min_freq: int = 1, max_size: int | None = None
    ) -> Vocab:
        """Most frequent tokens first (ties broken by first appearance: builds are repeatable)."""
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        ranked = [t for t, c in counts.most_common() if c >= min_freq and t not in (PAD, UNK)]
        if max_size is not None:
            ranked = ranked[: max(0, max_size - 2)]
        return cls((PAD, UNK, *ranked))

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self._stoi  # type: ignore[attr-defined]

    def id(self, token: str) -> int:
        return self._stoi.get(token, UNK_ID)  # type: ignore[attr-defined]

    def encode(self, tokens: Sequence[str]) -> list[int]:
        stoi = self._stoi  # type: ignore[attr-defined]
        return [stoi.get(t, UNK_ID) for t in tokens]

    def to_json(self) -> str:
        return json.dumps(list(self.itos), ensure_ascii=False)

    @classmethod
    def from_json(cls, payload: str) -> Vocab:
        try:
            itos = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise RnnVizError(f"vocabulary is not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise RnnVizError("vocabulary JSON is nested too deeply") from None
        if not isinstance(itos, list) or not all(isinstance(t, str) for t in itos):
            raise RnnVizError("vocabulary must be a JSON list of strings")
        return cls(tuple(itos))


@dataclass(frozen=True)
class Encoded:
    """A text as the model sees it."""

    tokens: list[str]
    ids: list[int]
    truncated: bool  # True when the text had more than ``max_tokens`` tokens
    total_tokens: int  # before truncation (counted on the capped raw text)

    @property
    def n_unknown(self) -> int:
        return sum(1 for i in self.ids if i == UNK_ID)


def encode_text(text: str, tokenizer: Tokenizer, vocab: Vocab, max_tokens: int) -> Encoded:
    """Tokenise and map to ids, keeping the first ``max_tokens`` tokens.

    Raises RnnVizError for text with no tokens at all (empty, whitespace, control characters).
    """
    if not isinstance(text, str):
        raise RnnVizError("text must be a string")
    # A 100k-character paste is cut before tokenising: jieba on it would take seconds.
    raw_cap = max_tokens * 8
    tokens = tokenizer(text[:raw_cap])
    if not tokens:
        raise RnnVizError(
            "the text is empty after normalisation (only spaces or control characters)")
    total = len(tokens)
    truncated = total > max_tokens or len(text) > raw_cap
    tokens = tokens[:max_tokens]
    return Encoded(tokens=tokens, ids=vocab.encode(tokens), truncated=truncated, total_tokens=total)
