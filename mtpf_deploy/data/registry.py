"""Named datasets under a data root (the layout of ``shared/data``, see its SOURCES.md).

``load_split("conll2003", "train", data_root)`` returns a list of records: ``TaggedSentence`` for
``ner``, ``LabeledText`` for ``tc``, ``TextPair`` for ``pairs`` and ``str`` for ``unlabeled``.
Splits are named ``train``/``dev``/``test``; datasets without one get a seeded carve-out.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MtpfError
from . import bio, corpus, pairs, text

Reader = Callable[[Path], list]


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset lives under the data root and how to read each split."""

    name: str
    task: str  # ner | tc | pairs | unlabeled
    splits: dict[str, Reader]
    license: str
    carve: dict[str, tuple[str, float]] = field(default_factory=dict)  # new split -> (from split, fraction)
    # "dataset/split" evaluation splits whose texts this (unlabeled) dataset drops when it is read:
    # pre-finetuning must never see a downstream evaluation text
    held_out: tuple[str, ...] = ()


def _bio(rel: str, **kw) -> Reader:
    return lambda root: bio.read_bio(root / rel, **kw)


def _aligned_bio(d: str) -> Reader:
    return lambda root: bio.read_aligned_bio(root / d / "seq.in", root / d / "seq.out")


def _csv(rel: str, **kw) -> Reader:
    return lambda root: text.read_csv(root / rel, **kw)


def _label_text(rel: str, names: dict[str, str] | None = None) -> Reader:
    return lambda root: text.read_label_text(root / rel, names)


def _tweeteval(task: str, split: str, gz: bool = False) -> Reader:
    ext = ".txt.gz" if gz else ".txt"
    base = "tweeteval/" + task

    def read(root: Path) -> list:
        mapping_dir = root / "tweeteval" / task.split("/")[0]
        names = text.read_mapping(mapping_dir / "mapping.txt")
        return text.read_aligned(root / base / f"{split}_text{ext}", root / base / f"{split}_labels{ext}", names)

    return read


def _aligned_intent(d: str) -> Reader:
    return lambda root: text.read_aligned(root / d / "seq.in", root / d / "label")


def _imdb(split: str) -> Reader:
    names = {"0": "neg", "1": "pos"}
    return lambda root: [
        r for i in range(4) for r in text.read_jsonl(root / f"imdb/{split}-0000{i}-of-00004.jsonl.gz", label_names=names)
    ]


def _dbpedia(rel: str) -> Reader:
    def read(root: Path) -> list:
        names = text.read_mapping(root / "dbpedia14_subset/meta.txt")
        return text.read_csv(root / rel, text=1, label=0, header=False, label_names=names)

    return read


def _tsv_pairs(rel: str, **kw) -> Reader:
    return lambda root: pairs.read_tsv_pairs(root / rel, **kw)


WNUT_RAW = ("gurez.10000.gz", "ile.10000.gz", "palm.10000.gz", "rigo.10000.gz", "redd.tok.uniq.gz",
            "stacko-src.gz", "yt-filter.gz")
SST2 = {"0": "negative", "1": "positive"}
SST5 = {"0": "very negative", "1": "negative", "2": "neutral", "3": "positive", "4": "very positive"}
TREC = {"0": "DESC", "1": "ENTY", "2": "ABBR", "3": "HUM", "4": "LOC", "5": "NUM"}
AG = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"}
AG0 = {"0": "World", "1": "Sports", "2": "Business", "3": "Sci/Tech"}
CF = {"0": "not-counterfactual", "1": "counterfactual"}

_SPECS: list[DatasetSpec] = [
    # --- NER ---
    DatasetSpec("conll2003", "ner", {s: _bio(f"conll2003/{f}.txt.gz") for s, f in
                                    (("train", "train"), ("dev", "valid"), ("test", "test"))},
                "research use only (Reuters RCV1)"),
    DatasetSpec("wnut17", "ner", {s: _bio(f"wnut17/{s}.conll") for s in ("train", "dev", "test")}, "CC BY 4.0"),
    DatasetSpec("mit_restaurant", "ner", {s: _bio(f"mit_restaurant/{s}.txt")
                                         for s in ("train", "test")}, "not stated",
                carve={"dev": ("train", 0.1)}),
    DatasetSpec("jnlpba", "ner", {"train": _bio("jnlpba/train.tsv.gz"), "test": _bio("jnlpba/test.tsv")},
                "CC BY 3.0 annotations (GENIA Project)", carve={"dev": ("train", 0.1)}),
    DatasetSpec("snips_slots", "ner", {s: _aligned_bio(f"snips/{d}") for s, d in
                                      (("train", "train"), ("dev", "valid"), ("test", "test"))}, "not stated"),
    DatasetSpec("atis_slots", "ner", {s: _aligned_bio(f"atis/{d}") for s, d in
                                     (("train", "train"), ("dev", "valid"), ("test", "test"))}, "not stated"),
    # --- text classification ---
    DatasetSpec("banking77", "tc", {s: _csv(f"banking77/{s}.csv", text="text", label="category")
                                   for s in ("train", "test")}, "CC BY 4.0", carve={"dev": ("train", 0.1)}),
    DatasetSpec("emotion", "tc", {s: (lambda f: lambda root: text.read_split_last(root / f"emotion/{f}.txt", ";", header=True))(f)  # noqa: B023
                                 for s, f in (("train", "train"), ("dev", "val"), ("test", "test"))},
                "educational and research use (dair-ai)"),
    DatasetSpec("financial_phrasebank", "tc",
                {"train": lambda root: text.read_split_last(root / "financial_phrasebank/Sentences_AllAgree.txt", "@")},
                "CC BY-NC-SA 3.0", carve={"test": ("train", 0.2)}),
    DatasetSpec("amazon_counterfactual", "tc", {s: _csv(f"amazon_counterfactual/en_{f}.tsv", text="sentence",
                                                       label="is_counterfactual", delimiter="\t", label_names=CF)
                                               for s, f in (("train", "train"), ("dev", "valid"), ("test", "test"))},
                "CC BY-NC 4.0"),
    DatasetSpec("amazon_counterfactual_ext", "tc", {s: _csv(f"amazon_counterfactual/en-ext_{f}.tsv", text="sentence",
                                                           label="is_counterfactual", delimiter="\t", label_names=CF)
                                                   for s, f in (("train", "train"), ("dev", "valid"), ("test", "test"))},
                "CC BY-NC 4.0"),
    DatasetSpec("ag_news", "tc", {"train": _csv("ag_news/train_subset5k.csv", text=0, label=1, header=False, label_names=AG0),
                                  "test": _csv("ag_news/test.csv", text=["Title", "Description"], label="Class Index",
                                               label_names=AG)},
                "not stated (AG corpus)", carve={"dev": ("train", 0.1)}),
    DatasetSpec("sst2", "tc", {s: _label_text(f"sst2/{s}.txt", SST2) for s in ("train", "dev", "test")},
                "not stated (SST)"),
    DatasetSpec("sst5", "tc", {s: _label_text(f"sst5/{s}.txt", SST5) for s in ("train", "dev", "test")},
                "not stated (SST)"),
    DatasetSpec("trec", "tc", {s: _label_text(f"trec/{s}_coarse.txt", TREC) for s in ("train", "test")},
                "not stated", carve={"dev": ("train", 0.1)}),
    DatasetSpec("trec_fine", "tc", {s: _label_text(f"trec/{s}_fine.txt") for s in ("train", "test")},
                "not stated", carve={"dev": ("train", 0.1)}),
    DatasetSpec("mr", "tc", {"train": _label_text("mr/all.txt", {"0": "neg", "1": "pos"})}, "not stated",
                carve={"test": ("train", 0.2)}),
    DatasetSpec("imdb", "tc", {"train": _imdb("train"), "test": _imdb("test")}, "not stated (aclImdb v1)",
                carve={"dev": ("train", 0.1)}),
    DatasetSpec("dbpedia14", "tc", {"train": _dbpedia("dbpedia14_subset/val.csv"),
                                    "test": _dbpedia("dbpedia14_subset/test.csv")},
                "CC BY-SA 3.0 + GFDL", carve={"dev": ("train", 0.1)}),
    DatasetSpec("snips_intent", "tc", {s: _aligned_intent(f"snips/{d}") for s, d in
                                      (("train", "train"), ("dev", "valid"), ("test", "test"))}, "not stated"),
    DatasetSpec("atis_intent", "tc", {s: _aligned_intent(f"atis/{d}") for s, d in
                                     (("train", "train"), ("dev", "valid"), ("test", "test"))}, "not stated"),
    # --- sentence pairs ---
    DatasetSpec("stsb", "pairs", {s: _tsv_pairs(f"stsb/sts-{s}.csv", a=5, b=6, score=4, header=False)
                                  for s in ("train", "dev", "test")}, "CC BY-SA 4.0 (scores)"),
    DatasetSpec("mrpc", "pairs", {s: _tsv_pairs(f"mrpc/msr-para-{f}.tsv", a=3, b=4, label=0)
                                  for s, f in (("train", "train"), ("dev", "val"), ("test", "test"))},
                "Microsoft Research Shared Source"),
    DatasetSpec("sick2014", "pairs", {s: _tsv_pairs(f"sick2014/{f}.txt", a=1, b=2, score=3, label=4)
                                      for s, f in (("train", "SICK_train"), ("dev", "SICK_trial"),
                                                   ("test", "SICK_test_annotated"))},
                "not stated (upstream CC BY-NC-SA 3.0)"),
    DatasetSpec("snli", "pairs", {s: _tsv_pairs(f"snli/{s}.tsv", a=0, b=1, label=2) for s in ("dev", "test")},
                "CC BY-SA 4.0"),
    # --- unlabeled ---
    DatasetSpec("leipzig_wikipedia", "unlabeled",
                {"train": lambda root: corpus.read_unlabeled(
                    root / "unlabeled/leipzig_eng_wikipedia_2016_10K-sentences.txt", column=1)},
                "not stated (Leipzig Corpora Collection)"),
    DatasetSpec("wnut17_raw", "unlabeled",
                {"train": lambda root: [line for name in WNUT_RAW
                                        for line in corpus.read_unlabeled(root / "unlabeled/wnut17_raw" / name)]},
                "CC BY 4.0", held_out=("wnut17/dev", "wnut17/test")),  # the raw text behind WNUT-17 holds
                                                                       # 989 of 1,005 dev and 1,246 of 1,280 test texts
]

_TWEETEVAL = {"emotion": False, "hate": False, "irony": False, "offensive": False, "emoji": True}
for _task, _gz in _TWEETEVAL.items():
    _SPECS.append(DatasetSpec(f"tweeteval_{_task}", "tc",
                              {s: _tweeteval(_task, f, _gz) for s, f in
                               (("train", "train"), ("dev", "val"), ("test", "test"))},
                              "no restrictions stated (TweetEval)"))
_SPECS.append(DatasetSpec("tweeteval_sentiment", "tc",
                          {"dev": _tweeteval("sentiment", "val"), "test": _tweeteval("sentiment", "test")},
                          "no restrictions stated (TweetEval); train text missing"))
for _target in ("abortion", "atheism", "climate", "feminist", "hillary"):
    _SPECS.append(DatasetSpec(f"tweeteval_stance_{_target}", "tc",
                              {s: _tweeteval(f"stance/{_target}", f) for s, f in
                               (("train", "train"), ("dev", "val"), ("test", "test"))},
                              "no restrictions stated (TweetEval)"))
# stance mapping.txt sits in tweeteval/stance/, shared by all targets (handled by _tweeteval's split("/")).

REGISTRY: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}


def get_spec(name: str) -> DatasetSpec:
    """The spec of a registered dataset, or an error listing the known names."""
    if name not in REGISTRY:
        raise MtpfError(f"unknown dataset {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def split_names(name: str) -> list[str]:
    """Splits available for a dataset, carved ones included."""
    spec = get_spec(name)
    return sorted(set(spec.splits) | set(spec.carve))


def _carve(records: list, fraction: float, seed: int = 0) -> tuple[list, list]:
    """Seeded split into (carved, rest); both keep the file order."""
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    cut = int(round(len(records) * fraction))
    return [records[i] for i in sorted(order[:cut])], [records[i] for i in sorted(order[cut:])]


def load_split(name: str, split: str, data_root: str | Path) -> list:
    """Read one split of a registered dataset from ``data_root``; an empty split is an error.

    A carved split (e.g. ``dev`` taken from ``train``) is a seeded fraction of its source, and the
    source split then returns only the remainder, so carved splits never overlap their source.
    """
    spec = get_spec(name)
    root = Path(data_root)
    if not root.is_dir():
        raise MtpfError(f"data root {root} is not a directory (pass --data-root pointing at shared/data)")
    source = spec.carve[split][0] if split in spec.carve else split
    if source not in spec.splits:
        raise MtpfError(f"dataset {name!r} has no split {split!r} (has {', '.join(split_names(name))})")
    records = spec.splits[source](root)
    for new, (from_split, fraction) in spec.carve.items():
        if from_split != source:
            continue
        carved, records = _carve(records, fraction)
        if new == split:
            records = carved
            break
    if spec.held_out:
        held = {overlap_key(t) for where in spec.held_out for t in record_texts(load_split(*where.split("/"), root))}
        records = [r for r in records if not held & {overlap_key(t) for t in record_texts([r])}]
    if not records:
        raise MtpfError(f"dataset {name!r} split {split!r} under {root} is empty")
    return records


def overlap_key(text: str) -> str:
    """What two texts share when one is a copy of the other: case and all whitespace dropped (tokenized
    and raw copies of a sentence differ in spacing)."""
    return "".join(text.lower().split())


def record_texts(records: list) -> list[str]:
    """The text(s) of each record: a sentence's words joined, a pair's two texts, a labelled or raw text."""
    out = []
    for r in records:
        if hasattr(r, "words"):
            out.append(" ".join(r.words))
        elif hasattr(r, "text_a"):
            out += [r.text_a, r.text_b]
        else:
            out.append(r.text if hasattr(r, "text") else str(r))
    return out
