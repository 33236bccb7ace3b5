"""A data root laid out like shared/data holding synthetic versions of the quick suite's datasets."""
from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from tests.conftest import make_ner_sentences, make_tc_examples


def _bio_text(sentences) -> str:
    return "\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(s.words, s.tags)) for s in sentences) + "\n"


def make_data_root(root: Path) -> Path:
    splits = {"train": make_ner_sentences(300, 1), "dev": make_ner_sentences(40, 2), "test": make_ner_sentences(60, 3)}
    (root / "conll2003").mkdir(parents=True)
    (root / "wnut17").mkdir()
    for split, name in (("train", "train"), ("dev", "valid"), ("test", "test")):
        with gzip.open(root / "conll2003" / f"{name}.txt.gz", "wt") as f:
            f.write(_bio_text(splits[split]))
        (root / "wnut17" / f"{split}.conll").write_text(_bio_text(splits[split]))
    tc = {"train": make_tc_examples(240, 1), "test": make_tc_examples(90, 2), "val": make_tc_examples(30, 3)}
    (root / "banking77").mkdir()
    for split in ("train", "test"):
        with open(root / "banking77" / f"{split}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["text", "category"])
            w.writerows([x.text, x.label] for x in tc[split])
    (root / "emotion").mkdir()
    for split in ("train", "val", "test"):
        (root / "emotion" / f"{split}.txt").write_text("text;label\n" + "".join(f"{x.text};{x.label}\n" for x in tc[split]))
    return root


@pytest.fixture(scope="session")
def quick_data_root(tmp_path_factory) -> Path:
    return make_data_root(tmp_path_factory.mktemp("data"))
