"""Word -> sub-word alignment keeps exact character offsets, unicode included."""
from __future__ import annotations

import pytest

from mtpf_deploy.backbones import resolve_backbone
from mtpf_deploy.data.tokenization import (
    IGNORE_INDEX,
    encode_pretokenized,
    encode_text,
    encode_words,
    load_tokenizer,
    windows,
)


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(resolve_backbone("default"))


WORDS = ["Héllo", "wörld", "😀", "東京", "cafe\u0301", "Washington", "Z\u0308\u0301", "x"]


def test_offsets_point_into_the_original_text(tok):
    enc = encode_words(tok, WORDS)
    assert enc.text == " ".join(WORDS)
    for (s, e), w in zip(enc.word_spans, WORDS):
        assert enc.text[s:e] == w
    for (s, e), wi in zip(enc.offsets, enc.word_index):
        assert wi >= 0
        ws, we = enc.word_spans[wi]
        assert ws <= s < e <= we  # every sub-word lies inside its word
    # sub-words of a word cover it from its first character
    first = {}
    for (s, _), wi in zip(enc.offsets, enc.word_index):
        first.setdefault(wi, s)
    assert all(first[i] == enc.word_spans[i][0] for i in first)


def test_label_on_first_subword_only(tok):
    enc = encode_words(tok, ["Washingtonian", "東京", "ok"])
    labels = enc.first_subword_labels([5, 6, 7])
    assert [l for l in labels if l != IGNORE_INDEX] == [5, 6, 7]
    assert len(labels) == len(enc.ids) > 3  # multi-piece words got IGNORE_INDEX on later pieces


def test_encode_text_words_and_spans(tok):
    """Words as ``adapt ner`` trains on them: what whitespace separates (punctuation stays in its word)."""
    text = "  Apple Inc. in Cupertino, CA 😀 O'Neil ex-England "
    enc = encode_text(tok, text)
    spans = [text[s:e] for s, e in enc.word_spans]
    assert spans == ["Apple", "Inc.", "in", "Cupertino,", "CA", "😀", "O'Neil", "ex-England"]
    words = encode_words(tok, ["Apple", "Inc.", "O'Neil"])
    again = encode_text(tok, words.text)
    assert (again.word_index, again.word_spans) == (words.word_index, words.word_spans)  # the training words


def test_pretokenized_words_split_punctuation(tok):
    """Pseudo-labelling's words (CoNLL-style): the pre-tokenizer's, punctuation on its own."""
    text = "  Apple Inc. in Cupertino, CA 😀 "
    enc = encode_pretokenized(tok, text)
    assert [text[s:e] for s, e in enc.word_spans] == ["Apple", "Inc", ".", "in", "Cupertino", ",", "CA", "😀"]


def test_each_cjk_ideograph_is_a_word(tok):
    enc = encode_text(tok, "Tokyo東京 ok")
    assert [enc.text[s:e] for s, e in enc.word_spans] == ["Tokyo", "東", "京", "ok"]


def test_windows_cover_everything_with_overlap():
    assert windows(5, 10, 4) == [(0, 5)]
    w = windows(25, 10, 6)
    assert w[0] == (0, 10) and w[-1][1] == 25
    assert all(b[0] < a[1] for a, b in zip(w, w[1:]))  # overlapping
