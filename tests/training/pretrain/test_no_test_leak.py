"""Pre-finetuning must never see a downstream evaluation text (issue 8): every default pair source
and every registered unlabeled corpus (pseudo-label, SimCSE) is checked against every registered
downstream evaluation split (dev and test of the NER and TC datasets). Texts match when equal up to
case and whitespace. The pair datasets' own test splits are not downstream evaluations here (their
sentences recur across splits by design, e.g. SICK, SNLI premises)."""
from __future__ import annotations

from functools import lru_cache

import pytest

from mtpf_deploy.data.registry import REGISTRY, load_split, overlap_key, record_texts, split_names
from mtpf_deploy.training.pretrain.config import PretrainConfig
from mtpf_deploy.training.pretrain.pair_sources import SOURCES
from tests.conftest import need_shared_data

MIN_WORDS = 4  # shorter texts ("." or "this is great!") recur anywhere without being copies


def _texts(records) -> set[str]:
    return {overlap_key(t) for t in record_texts(records) if len(t.split()) >= MIN_WORDS}


@lru_cache(maxsize=1)
def evaluation_texts() -> dict[str, set[str]]:
    root = need_shared_data()
    out = {}
    for name, spec in REGISTRY.items():
        wanted = ("dev", "test") if spec.task in ("ner", "tc") else ()
        for split in split_names(name):
            if split in wanted:
                out[f"{name}/{split}"] = _texts(load_split(name, split, root))
    return out


def leaks(texts: set[str]) -> dict[str, int]:
    return {where: len(texts & held_out) for where, held_out in evaluation_texts().items() if texts & held_out}


@pytest.mark.parametrize("source", PretrainConfig().pairs)
def test_default_pair_sources_share_no_text_with_evaluation_splits(source):
    pairs = SOURCES[source](need_shared_data())
    assert leaks(_texts([t for pair in pairs for t in pair])) == {}


def test_the_check_finds_a_leak():
    """agnews_title_body reads the AG News test file: the check sees it (and it is not a default)."""
    assert "agnews_title_body" not in PretrainConfig().pairs
    pairs = SOURCES["agnews_title_body"](need_shared_data())
    found = leaks(_texts([f"{t} {b}" for t, b in pairs]))
    assert found.get("ag_news/test", 0) > 7000


@pytest.mark.parametrize("corpus", [n for n, s in REGISTRY.items() if s.task == "unlabeled"])
def test_unlabeled_corpora_share_no_text_with_evaluation_splits(corpus):
    root = need_shared_data()
    texts = set()
    for split in split_names(corpus):
        texts |= _texts(load_split(corpus, split, root))
    assert leaks(texts) == {}
