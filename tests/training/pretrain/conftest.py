"""Data and settings shared by the pretrain tests."""
from __future__ import annotations

import pytest

from mtpf_deploy.training.pretrain.config import PretrainConfig
from tests.conftest import make_ner_sentences, make_tc_examples

QUIET = lambda m: None  # noqa: E731


@pytest.fixture(scope="session")
def pf_data(tmp_path_factory) -> dict[str, str]:
    """A TSV pair file and a pseudo-labelled NER corpus folder on the tiny vocabulary."""
    root = tmp_path_factory.mktemp("pf_data")
    examples = make_tc_examples(200, 5)
    by_label: dict[str, list[str]] = {}
    for x in examples:
        by_label.setdefault(x.label, []).append(x.text)
    with open(root / "pairs.tsv", "w") as f:
        for texts in by_label.values():
            for a, b in zip(texts[::2], texts[1::2]):
                f.write(f"{a}\t{b}\n")
    corpus = root / "corpus"
    corpus.mkdir()
    with open(corpus / "train.tsv", "w") as f:
        for s in make_ner_sentences(120, 6):
            for w, t in zip(s.words, s.tags):
                f.write(f"{w}\t{'C0' if t == 'O' else 'C' + str(len(t) % 5 + 1)}\n")
            f.write("\n")
    return {"pairs": str(root / "pairs.tsv"), "ner": str(corpus)}


def make_config(tiny_bert, pf_data, **kw) -> PretrainConfig:
    base = dict(backbone=str(tiny_bert), pairs=[], pair_files=[pf_data["pairs"]], ner_corpus=pf_data["ner"],
                steps=4, tc_batch_size=16, ner_batch_size=8, lora_r=4, lora_alpha=8, backbone_lr=1e-3, lora_lr=1e-2,
                max_length=32)
    base.update(kw)
    return PretrainConfig(**base)
