"""Plain record types shared by readers, trainers and the runtime."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaggedSentence:
    """A sentence as words with one IOB2 (or pseudo-label) tag per word."""

    words: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class LabeledText:
    """A text with one class label (a string)."""

    text: str
    label: str


@dataclass(frozen=True)
class TextPair:
    """Two texts with a label (paraphrase / entailment) or a score (similarity)."""

    text_a: str
    text_b: str
    label: str | None = None
    score: float | None = None
