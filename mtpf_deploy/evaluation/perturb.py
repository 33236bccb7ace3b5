"""Entity-swap perturbations of NER sentences (paper Sec. 5, Finding 1; torch-free).

Each entity of a sentence is replaced by an entity of the same type drawn from a pool (the surface
forms of that type in the corpus, a different one where the pool allows); the words outside
entities stay as they are, so the perturbed sentence keeps its structure and its entity types."""
from __future__ import annotations

import random

from ..data.bio import bio_entity_spans
from ..data.types import TaggedSentence


def entity_pool(sentences: list[TaggedSentence]) -> dict[str, list[tuple[str, ...]]]:
    """Distinct surface forms (word tuples) per entity type, in first-seen order."""
    pool: dict[str, dict[tuple[str, ...], None]] = {}
    for s in sentences:
        for kind, first, last in bio_entity_spans(s.tags):
            pool.setdefault(kind, {})[tuple(s.words[first : last + 1])] = None
    return {kind: list(forms) for kind, forms in pool.items()}


def perturb(sentence: TaggedSentence, pool: dict[str, list[tuple[str, ...]]], rng: random.Random) -> TaggedSentence:
    """``sentence`` with every entity swapped for a random same-type entity from ``pool``."""
    words: list[str] = []
    tags: list[str] = []
    position = 0
    for kind, first, last in bio_entity_spans(sentence.tags):
        words += sentence.words[position:first]
        tags += sentence.tags[position:first]
        original = tuple(sentence.words[first : last + 1])
        choices = [f for f in pool.get(kind, []) if f != original] or [original]
        replacement = rng.choice(choices)
        words += replacement
        tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(replacement) - 1)
        position = last + 1
    words += sentence.words[position:]
    tags += sentence.tags[position:]
    return TaggedSentence(tuple(words), tuple(tags))


def perturbation_set(sentences: list[TaggedSentence], n_sentences: int, variants: int,
                     seed: int = 0) -> list[tuple[TaggedSentence, list[TaggedSentence]]]:
    """Up to ``n_sentences`` sentences that hold an entity (seeded choice), each with ``variants`` perturbations."""
    pool = entity_pool(sentences)
    rng = random.Random(seed)
    with_entities = [s for s in sentences if bio_entity_spans(s.tags)]
    chosen = sorted(rng.sample(range(len(with_entities)), min(n_sentences, len(with_entities))))
    return [(with_entities[i], [perturb(with_entities[i], pool, rng) for _ in range(variants)]) for i in chosen]
