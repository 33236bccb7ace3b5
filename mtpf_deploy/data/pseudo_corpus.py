"""The pseudo-labelled NER corpus ``pseudo-label`` writes and ``pretrain --ner-corpus`` reads:
a folder with ``train.tsv`` (token<TAB>label, blank line between sentences) and ``meta.json``."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import MtpfError
from ..formats.atomic import atomic_dir
from .bio import read_bio
from .types import TaggedSentence


def read_pseudo_corpus(path: str | Path) -> tuple[list[TaggedSentence], list[str]]:
    """Sentences and the label list of a pseudo-labelled corpus (folder with meta.json, or a file)."""
    path = Path(path)
    if path.is_dir():
        meta = json.loads((path / "meta.json").read_text()) if (path / "meta.json").exists() else {}
        sentences = read_bio(path / "train.tsv", tag_position="last", scheme="any")
        labels = meta.get("labels") or sorted({t for s in sentences for t in s.tags})
    else:
        sentences = read_bio(path, tag_position="last", scheme="any")
        labels = sorted({t for s in sentences for t in s.tags})
    if not sentences:
        raise MtpfError(f"NER corpus {path} is empty")
    return sentences, labels


def write_pseudo_corpus(out: Path, sentences: list[TaggedSentence], meta: dict, overwrite: bool = False) -> None:
    labels = sorted({t for s in sentences for t in s.tags}, key=_label_key)
    with atomic_dir(out, overwrite) as tmp:
        with open(tmp / "train.tsv", "w", encoding="utf-8") as f:
            for s in sentences:
                for w, t in zip(s.words, s.tags):
                    f.write(f"{w.replace(chr(9), ' ')}\t{t}\n")
                f.write("\n")
        (tmp / "meta.json").write_text(json.dumps({**meta, "sentences": len(sentences),
                                                   "words": sum(len(s.words) for s in sentences),
                                                   "labels": labels}, indent=2) + "\n")


def _label_key(label: str) -> tuple:
    return (0, int(label[1:])) if label[:1] == "C" and label[1:].isdigit() else (1, label)
