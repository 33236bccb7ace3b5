"""Turning per-token NER probabilities into entities: window merging, first sub-word per word,
BIO repair, character spans into the original text."""
from __future__ import annotations

import unicodedata

import numpy as np

from ...data.bio import bio_entity_spans
from ...data.tokenization import WordEncoding
from ..results import Entity


def best_window_per_token(n_tokens: int, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """For each token, (window index, position in window) of the window where it is most central."""
    best: list[tuple[int, int]] = [(-1, -1)] * n_tokens
    margin = [-1] * n_tokens
    for w, (s, e) in enumerate(spans):
        for t in range(s, e):
            m = min(t - s, e - 1 - t)
            if m > margin[t]:
                margin[t] = m
                best[t] = (w, t - s)
    return best


def word_predictions(enc: WordEncoding, token_probs: np.ndarray) -> list[tuple[int, float]]:
    """(label id, probability) of each word, read at its first sub-word. Words with no sub-word
    (characters the tokenizer drops) get label 0 (``O``)."""
    out = [(0, 1.0)] * len(enc.word_spans)
    for t, w in enc.first_subwords():
        k = int(token_probs[t].argmax())
        out[w] = (k, float(token_probs[t, k]))
    return out


def _joins_previous(ch: str) -> bool:
    """Characters that belong to the character before them: combining marks, ZWJ, variation selectors,
    emoji skin-tone modifiers."""
    cp = ord(ch)
    return (unicodedata.combining(ch) != 0 or unicodedata.category(ch) in ("Mn", "Me", "Mc")
            or cp == 0x200D or 0xFE00 <= cp <= 0xFE0F or 0x1F3FB <= cp <= 0x1F3FF or 0xE0100 <= cp <= 0xE01EF)


def whole_characters(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``[start, end)`` so it neither starts nor ends inside a user-perceived character (NFD
    text: a normaliser that drops accents ends a word's offsets before its combining marks)."""
    while start > 0 and _joins_previous(text[start]):
        start -= 1
    while end < len(text) and _joins_previous(text[end]):
        end += 1
        if text[end - 1] == "\u200d" and end < len(text):  # a ZWJ glues the next character on
            end += 1
    return start, end


def decode_entities(text: str, enc: WordEncoding, words: list[tuple[int, float]], labels: list[str]) -> list[Entity]:
    """Group IOB2-tagged words into entities (``bio_entity_spans``, strict IOB2 as ``adapt``/``evaluate`` score:
    an ``I-X`` that continues no ``X`` entity is dropped); the score is the words' mean probability."""
    entities = []
    for kind, first, last in bio_entity_spans([labels[k] for k, _ in words]):
        start, end = whole_characters(text, enc.word_spans[first][0], enc.word_spans[last][1])
        score = float(np.mean([p for _, p in words[first : last + 1]]))
        entities.append(Entity(text[start:end], kind, start, end, score))
    return entities
