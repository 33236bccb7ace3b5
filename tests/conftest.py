"""Shared fixtures: tiny random BERTs and trivially learnable synthetic tasks."""
from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from mtpf_deploy.data.types import LabeledText, TaggedSentence

REPO = Path(__file__).resolve().parent.parent
DATA_ROOT = Path(os.environ.get("MTPF_DATA_ROOT", REPO.parent / "shared" / "data"))

CITIES = ["paris", "london", "berlin", "madrid", "rome", "oslo", "lima", "cairo"]
PEOPLE = ["alice", "bob", "carol", "dave", "erin"]
FILLER = ["the", "a", "went", "to", "saw", "in", "and", "then", "met", "yesterday", "big", "small", "with"]
TOPICS = {"sport": ["goal", "match", "team", "score"], "food": ["pizza", "pasta", "bread", "soup"],
          "tech": ["laptop", "code", "chip", "phone"]}


def make_ner_sentences(n: int, seed: int) -> list[TaggedSentence]:
    """Cities are LOC, '<name> smith' is PER, everything else O."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words, tags = [], []
        for _ in range(rng.randint(4, 10)):
            r = rng.random()
            if r < 0.15:
                words.append(rng.choice(CITIES).capitalize())
                tags.append("B-LOC")
            elif r < 0.25:
                words += [rng.choice(PEOPLE).capitalize(), "Smith"]
                tags += ["B-PER", "I-PER"]
            else:
                words.append(rng.choice(FILLER))
                tags.append("O")
        out.append(TaggedSentence(tuple(words), tuple(tags)))
    return out


def make_tc_examples(n: int, seed: int) -> list[LabeledText]:
    """Two topic words decide the label, four filler words are noise."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        label = rng.choice(sorted(TOPICS))
        words = [rng.choice(FILLER) for _ in range(4)] + [rng.choice(TOPICS[label]) for _ in range(2)]
        rng.shuffle(words)
        out.append(LabeledText(" ".join(words), label))
    return out


def synthetic_ner_splits() -> dict[str, list[TaggedSentence]]:
    return {"train": make_ner_sentences(300, 1), "dev": make_ner_sentences(60, 2), "test": make_ner_sentences(60, 3)}


def synthetic_tc_splits() -> dict[str, list[LabeledText]]:
    return {"train": make_tc_examples(240, 1), "test": make_tc_examples(90, 2)}


def vocabulary() -> list[str]:
    return sorted(set(CITIES + PEOPLE + FILLER + ["smith"] + [w for ws in TOPICS.values() for w in ws]))


# Prebuilt fixtures (``python -m tests.fixtures DIR``) let the runtime tests run in a venv without torch.
PREBUILT = os.environ.get("MTPF_TEST_FIXTURES")


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide random BERT with a WordPiece tokenizer over the synthetic vocabulary."""
    if PREBUILT:
        return Path(PREBUILT) / "tiny_bert"
    from tests.tiny_bert import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert"), vocabulary(), seed=0)


@pytest.fixture(scope="session")
def ner_splits() -> dict[str, list[TaggedSentence]]:
    return synthetic_ner_splits()


@pytest.fixture(scope="session")
def tc_splits() -> dict[str, list[LabeledText]]:
    return synthetic_tc_splits()


def need_shared_data() -> Path:
    if not DATA_ROOT.is_dir():
        pytest.skip(f"shared data not found at {DATA_ROOT} (set MTPF_DATA_ROOT)")
    return DATA_ROOT


@pytest.fixture(scope="session")
def tiny_adapters(tiny_bert, ner_splits, tc_splits, tmp_path_factory) -> dict[str, Path]:
    """Adapter folders made by ``adapt`` on the tiny BERT: NER (LoRA + head) and TC (LoRA + head)."""
    if PREBUILT:
        return {"ner": Path(PREBUILT) / "adapters" / "ner", "tc": Path(PREBUILT) / "adapters" / "tc"}
    from tests.fixtures import make_tiny_adapters

    return make_tiny_adapters(tiny_bert, ner_splits, tc_splits, tmp_path_factory.mktemp("tiny_adapters"))


@pytest.fixture(scope="session")
def tiny_bundle(tiny_bert, tiny_adapters, tmp_path_factory) -> Path:
    """fp32 bundle of the tiny BERT with both adapters."""
    if PREBUILT:
        return Path(PREBUILT) / "bundle"
    from tests.fixtures import make_tiny_bundle

    return make_tiny_bundle(tiny_bert, tiny_adapters, tmp_path_factory.mktemp("bundles") / "tiny")
