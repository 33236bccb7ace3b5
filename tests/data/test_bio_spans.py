"""IOB2 tags -> entity spans: one function for the runtime and the previews, checked against seqeval."""
from __future__ import annotations

import random

import pytest

from mtpf_deploy.data.bio import bio_entity_spans


def test_hand_made_cases():
    assert bio_entity_spans(["B-PER", "I-PER", "O", "B-LOC"]) == [("PER", 0, 1), ("LOC", 3, 3)]
    assert bio_entity_spans(["I-PER", "I-PER", "B-PER", "I-LOC"]) == [("PER", 0, 1), ("PER", 2, 2), ("LOC", 3, 3)]
    assert bio_entity_spans(["O", "C12", "B-X"]) == [("X", 2, 2)]  # not B-/I-: outside
    assert bio_entity_spans([]) == []


def test_equals_seqeval_get_entities_on_random_sequences():
    seqeval = pytest.importorskip("seqeval.metrics.sequence_labeling")
    rng = random.Random(0)
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG"]
    for _ in range(2000):
        seq = [rng.choice(tags) for _ in range(rng.randint(0, 12))]
        assert bio_entity_spans(seq) == [tuple(e) for e in seqeval.get_entities(seq)], seq
