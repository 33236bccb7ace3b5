"""Every registered dataset loads from shared/data with the sizes SOURCES.md states."""
from __future__ import annotations

import pytest

from mtpf_deploy.data.registry import REGISTRY, load_split, split_names
from mtpf_deploy.data.types import LabeledText, TaggedSentence, TextPair
from mtpf_deploy.errors import MtpfError
from tests.conftest import need_shared_data

# (dataset, split) -> size in SOURCES.md. Carved splits: dev/test taken from train with a seed, so
# the two parts add up to the documented train size.
EXPECTED = {
    "conll2003": {"train": 14041, "dev": 3250, "test": 3453},
    "wnut17": {"train": 3394, "dev": 1009, "test": 1287},
    "mit_restaurant": {"train+dev": 7660, "test": 1521},
    "jnlpba": {"train+dev": 18475, "test": 3856},
    "snips_slots": {"train": 13084, "dev": 700, "test": 700},
    "atis_slots": {"train": 4478, "dev": 500, "test": 893},
    "banking77": {"train+dev": 10003, "test": 3080},
    "emotion": {"train": 16000, "dev": 2000, "test": 2000},
    "financial_phrasebank": {"train+test": 2264},
    "amazon_counterfactual": {"train": 4018, "dev": 335, "test": 670},
    "amazon_counterfactual_ext": {"train": 8000, "dev": 666, "test": 1334},
    "ag_news": {"train+dev": 5000, "test": 7600},
    "sst2": {"train": 6920, "dev": 872, "test": 1821},
    "sst5": {"train": 8544, "dev": 1101, "test": 2210},
    "trec": {"train+dev": 5452, "test": 500},
    "trec_fine": {"train+dev": 5452, "test": 500},
    "mr": {"train+test": 10662},
    "imdb": {"train+dev": 25000, "test": 24999},
    "dbpedia14": {"train+dev": 5000, "test": 5000},
    "snips_intent": {"train": 13084, "dev": 700, "test": 700},
    "atis_intent": {"train": 4478, "dev": 500, "test": 893},
    "stsb": {"train": 5749, "dev": 1500, "test": 1379},
    "mrpc": {"train": 3576, "dev": 500, "test": 1725},
    "sick2014": {"train": 4500, "dev": 500, "test": 4927},
    "snli": {"dev": 9842, "test": 9824},
    "leipzig_wikipedia": {"train": 10000},
    # SOURCES.md: 4 x 10,000 + 1,966 + 2,000 + 58,361 lines; read as text lines (a lone CR also ends a
    # line) there are 102,325 non-empty ones
    "wnut17_raw": {"train": 99972},  # 102,325 lines less the 2,353 that are WNUT-17 dev/test texts (held_out)
    "tweeteval_emotion": {"train": 3257, "dev": 374, "test": 1421},
    "tweeteval_hate": {"train": 9000, "dev": 1000, "test": 2970},
    "tweeteval_irony": {"train": 2862, "dev": 955, "test": 784},
    "tweeteval_offensive": {"train": 11916, "dev": 1324, "test": 860},
    "tweeteval_emoji": {"train": 45000, "dev": 5000, "test": 50000},
    "tweeteval_sentiment": {"dev": 2000, "test": 12284},
    "tweeteval_stance_abortion": {"train": 587, "dev": 66, "test": 280},
    "tweeteval_stance_atheism": {"train": 461, "dev": 52, "test": 220},
    "tweeteval_stance_climate": {"train": 355, "dev": 40, "test": 169},
    "tweeteval_stance_feminist": {"train": 597, "dev": 67, "test": 285},
    "tweeteval_stance_hillary": {"train": 620, "dev": 69, "test": 295},
}
RECORD = {"ner": TaggedSentence, "tc": LabeledText, "pairs": TextPair, "unlabeled": str}


def test_every_registered_dataset_has_expected_sizes():
    assert set(EXPECTED) == set(REGISTRY)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dataset_loads_with_documented_sizes(name):
    root = need_shared_data()
    sizes = {s: len(load_split(name, s, root)) for s in split_names(name)}
    for key, expected in EXPECTED[name].items():
        got = sum(sizes[s] for s in key.split("+"))
        assert got == expected, f"{name} {key}: {got} != {expected}"
    record = load_split(name, split_names(name)[0], root)[0]
    assert isinstance(record, RECORD[REGISTRY[name].task])


def test_carved_splits_partition_the_source_and_are_seeded():
    from collections import Counter

    from mtpf_deploy.data.text import read_csv

    root = need_shared_data()
    train = load_split("banking77", "train", root)
    dev = load_split("banking77", "dev", root)
    raw = read_csv(root / "banking77/train.csv", text="text", label="category")
    assert len(dev) == 1000 and len(train) == 9003
    assert Counter(train) + Counter(dev) == Counter(raw)  # a partition of the file
    assert load_split("banking77", "dev", root) == dev  # seeded: same every time


def test_gotchas_are_handled():
    root = need_shared_data()
    # MRPC starts with a BOM, has CRLF: the first label is a clean '1' / '0'
    mrpc = load_split("mrpc", "train", root)
    assert {p.label for p in mrpc} == {"0", "1"}
    # SICK test file has CRLF: entailment labels carry no '\r'
    assert {p.label for p in load_split("sick2014", "test", root)} == {"NEUTRAL", "ENTAILMENT", "CONTRADICTION"}
    # STS-B: 7 fields, quoting off, scores in [0, 5]
    stsb = load_split("stsb", "train", root)
    assert all(0 <= p.score <= 5 for p in stsb) and all(p.text_a and p.text_b for p in stsb)
    # Emotion: split on the LAST ';'
    assert {x.label for x in load_split("emotion", "train", root)} == {"sadness", "joy", "love", "anger", "fear", "surprise"}
    # TweetEval hate: empty texts kept (7 in train)
    assert sum(1 for x in load_split("tweeteval_hate", "train", root) if not x.text) == 7
    # CoNLL: -DOCSTART- lines are not tokens
    assert all("-DOCSTART-" not in s.words for s in load_split("conll2003", "dev", root))
    # WNUT-17 train: TAB-only separator lines split sentences (no sentence is absurdly long)
    assert max(len(s.words) for s in load_split("wnut17", "train", root)) < 200
    # AG News test: labels 1-4 map to names; text is title + description
    ag = load_split("ag_news", "test", root)
    assert {x.label for x in ag} == {"World", "Sports", "Business", "Sci/Tech"}
    assert ag[0].text.startswith("Fears for T N pension after talks Unions representing")
    # MIT Restaurant is token-first despite the docs saying tag-first
    first = load_split("mit_restaurant", "test", root)[0]
    assert all(t == "O" or t[:2] in ("B-", "I-") for t in first.tags)


def test_unknown_dataset_and_split_are_clear_errors(tmp_path):
    with pytest.raises(MtpfError, match="unknown dataset 'nope'"):
        load_split("nope", "train", tmp_path)
    root = need_shared_data()
    with pytest.raises(MtpfError, match="has no split 'train'"):
        load_split("snli", "train", root)
    with pytest.raises(MtpfError, match="not a directory"):
        load_split("wnut17", "train", tmp_path / "missing")
