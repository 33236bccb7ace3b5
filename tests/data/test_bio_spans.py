"""IOB2 tags -> entity spans: one function for the runtime and the previews, checked against seqeval's
strict IOB2 mode (the default, what ships) and its lenient ``get_entities``."""
from __future__ import annotations

import random

import pytest

from mtpf_deploy.data.bio import bio_entity_spans


def test_hand_made_cases():
    assert bio_entity_spans(["B-PER", "I-PER", "O", "B-LOC"]) == [("PER", 0, 1), ("LOC", 3, 3)]
    # strict (the default): a stray I- starts nothing, an I- of another type ends the entity
    assert bio_entity_spans(["I-PER", "I-PER", "B-PER", "I-LOC"]) == [("PER", 2, 2)]
    assert bio_entity_spans(["B-PER", "I-LOC", "I-LOC"]) == [("PER", 0, 0)]
    assert bio_entity_spans(["I-PER", "I-PER", "B-PER", "I-LOC"], strict=False) == [("PER", 0, 1), ("PER", 2, 2), ("LOC", 3, 3)]
    assert bio_entity_spans(["O", "C12", "B-X"]) == [("X", 2, 2)]  # not B-/I-: outside
    assert bio_entity_spans([]) == []


TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG"]


def test_lenient_equals_seqeval_get_entities_on_random_sequences():
    seqeval = pytest.importorskip("seqeval.metrics.sequence_labeling")
    rng = random.Random(0)
    for _ in range(2000):
        seq = [rng.choice(TAGS) for _ in range(rng.randint(0, 12))]
        assert bio_entity_spans(seq, strict=False) == [tuple(e) for e in seqeval.get_entities(seq)], seq


def test_strict_equals_seqeval_strict_iob2_on_random_sequences():
    """The entities seqeval's ``classification_report(mode="strict", scheme=IOB2)`` counts."""
    scheme = pytest.importorskip("seqeval.scheme")
    rng = random.Random(1)
    for _ in range(2000):
        seq = [rng.choice(TAGS) for _ in range(rng.randint(0, 12))]
        expected = sorted((e.tag, e.start, e.end - 1) for e in scheme.Entities([seq], scheme.IOB2).entities[0])
        assert sorted(bio_entity_spans(seq)) == expected, seq
