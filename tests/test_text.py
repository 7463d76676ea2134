"""Normalisation, the char and word tokenisers, the vocabulary and encode_text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnviz.core.text import (
    PAD,
    PAD_ID,
    UNK,
    UNK_ID,
    CharTokenizer,
    Vocab,
    WordTokenizer,
    encode_text,
    make_tokenizer,
    normalize,
)
from rnnviz.errors import RnnVizError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３", "abc123"),  # full-width letters and digits -> half-width (and lower case)
        ("股市，上涨！（图）", "股市,上涨!(图)"),  # full-width punctuation too
        ("  a \t\n\r b\u3000\u3000c  ", "a b c"),  # every run of whitespace -> one space, stripped
        ("a\x00b\x07c\x1b\x7fd", "abcd"),  # C0/C1 control characters dropped
        ("零\u200b宽\u200d连\ufeff字\u202e符", "零宽连字符"),  # format characters (Cf) dropped
        ("私\ue000用", "私用"),  # private use area dropped
        ("孤\ud800立", "孤立"),  # lone surrogates dropped
        ("乱\ufffd码", "乱\ufffd码"),  # U+FFFD (a character lost in THUCNews) is kept
        ("😀 emoji", "😀 emoji"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@given(st.text(max_size=60))
def test_normalize_is_idempotent_and_leaves_no_control_or_double_space(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert "  " not in once and once == once.strip()
    assert not any(ch in once for ch in "\t\n\r\x00\u200b\ufeff")


def test_char_tokenizer_keeps_characters_and_drops_whitespace() -> None:
    tokenize = CharTokenizer()
    assert tokenize("今天 股市\n上涨") == ["今", "天", "股", "市", "上", "涨"]
    assert tokenize("ＧＤＰ增长") == ["g", "d", "p", "增", "长"]
    assert tokenize("👍🏽好") == ["👍", "🏽", "好"]  # emoji and its skin-tone modifier
    assert tokenize(" \t\x00\u200b ") == []


def test_word_tokenizer_segments_with_jieba() -> None:
    tokenize = WordTokenizer()
    assert tokenize("我爱北京天安门") == ["我", "爱", "北京", "天安门"]  # jieba's own example
    assert tokenize("今天 股市大涨！") == ["今天", "股市", "大涨", "!"]  # no space tokens
    assert tokenize("   ") == []


def test_make_tokenizer() -> None:
    assert isinstance(make_tokenizer("char"), CharTokenizer)
    assert make_tokenizer("word").name == "word"
    with pytest.raises(RnnVizError, match="unknown tokenizer 'bpe'.*char, word"):
        make_tokenizer("bpe")


def test_vocab_build_orders_by_frequency_then_first_appearance() -> None:
    texts = [list("abcab"), list("dcb"), list("e")]  # b:3, a:2, c:2, d:1, e:1
    vocab = Vocab.build(texts)
    assert vocab.itos == (PAD, UNK, "b", "a", "c", "d", "e")
    assert vocab.id(PAD) == PAD_ID == 0 and vocab.id(UNK) == UNK_ID == 1
    assert vocab.id("zzz") == UNK_ID
    assert vocab.encode(list("bez")) == [2, 6, UNK_ID]
    assert "a" in vocab and "z" not in vocab
    assert len(vocab) == 7


def test_vocab_min_freq_and_max_size() -> None:
    texts = [list("abcab"), list("dcb"), list("e")]
    assert Vocab.build(texts, min_freq=2).itos == (PAD, UNK, "b", "a", "c")
    assert Vocab.build(texts, max_size=4).itos == (PAD, UNK, "b", "a")  # max_size counts specials
    assert Vocab.build(texts, min_freq=3, max_size=10).itos == (PAD, UNK, "b")
    assert Vocab.build([]).itos == (PAD, UNK)


def test_vocab_never_duplicates_the_special_tokens() -> None:
    vocab = Vocab.build([[PAD, UNK, "x", PAD]])
    assert vocab.itos == (PAD, UNK, "x")


@pytest.mark.parametrize(
    "itos",
    [("a", "b"), (UNK, PAD, "a"), (PAD,), (PAD, UNK, "a", "a")],
    ids=["no-specials", "swapped", "too-short", "duplicate"],
)
def test_vocab_refuses_bad_token_lists(itos: tuple[str, ...]) -> None:
    with pytest.raises(RnnVizError, match="vocabulary"):
        Vocab(itos)


def test_vocab_json_round_trip_keeps_unicode() -> None:
    vocab = Vocab((PAD, UNK, "股", "市", "\ufffd", "😀", '"', "\\"))
    payload = vocab.to_json()
    assert "股" in payload  # stored as UTF-8, not \u escapes
    assert Vocab.from_json(payload) == vocab


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ("not json", "not valid JSON"),
        ('{"itos": []}', "JSON list of strings"),
        ('["<PAD>", "<UNK>", 3]', "JSON list of strings"),
        ('["x", "y"]', "must start with <PAD>, <UNK>"),
        ('["<PAD>", "<UNK>", "a", "a"]', "duplicate"),
    ],
)
def test_vocab_from_bad_json_is_refused(payload: str, match: str) -> None:
    with pytest.raises(RnnVizError, match=match):
        Vocab.from_json(payload)


def _vocab() -> Vocab:
    return Vocab((PAD, UNK, *"股市上涨"))


def test_encode_text_maps_ids_and_counts_unknown() -> None:
    encoded = encode_text("股市大涨", CharTokenizer(), _vocab(), max_tokens=10)
    assert encoded.tokens == ["股", "市", "大", "涨"]
    assert encoded.ids == [2, 3, UNK_ID, 5]
    assert encoded.n_unknown == 1
    assert not encoded.truncated and encoded.total_tokens == 4


def test_encode_text_truncates_to_max_tokens_and_says_so() -> None:
    tokenize, vocab = CharTokenizer(), _vocab()
    exact = encode_text("股市上涨", tokenize, vocab, max_tokens=4)
    assert not exact.truncated and exact.tokens == list("股市上涨")
    cut = encode_text("股市上涨股市", tokenize, vocab, max_tokens=4)
    assert cut.truncated and cut.total_tokens == 6 and cut.tokens == list("股市上涨")
    assert len(cut.ids) == 4


def test_encode_text_caps_a_huge_paste_before_tokenising() -> None:
    encoded = encode_text("股" * 100_000, CharTokenizer(), _vocab(), max_tokens=8)
    assert encoded.truncated and len(encoded.tokens) == 8
    # Counted on the capped raw text (8 characters per kept token), not all 100,000.
    assert 8 < encoded.total_tokens <= 64


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01", "\u200b\ufeff"])
def test_encode_text_refuses_text_without_tokens(text: str) -> None:
    with pytest.raises(RnnVizError, match="empty"):
        encode_text(text, CharTokenizer(), _vocab(), max_tokens=8)


def test_encode_text_refuses_non_strings() -> None:
    with pytest.raises(RnnVizError, match="must be a string"):
        encode_text(b"bytes", CharTokenizer(), _vocab(), max_tokens=8)  # type: ignore[arg-type]
