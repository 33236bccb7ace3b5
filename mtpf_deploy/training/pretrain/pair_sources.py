"""Text pairs for the contrastive TC objective, one named source per dataset (for hierarchical
sampling). Positives only: in-batch negatives come from the other pairs."""
from __future__ import annotations

from pathlib import Path

from ...data.corpus import read_corpus
from ...data.pairs import read_tsv_pairs
from ...data.registry import load_split
from ...data.text import read_csv
from ...errors import MtpfError
from .config import PAIR_SOURCES

Pair = tuple[str, str]


def _stsb(root: Path) -> list[Pair]:
    return [(p.text_a, p.text_b) for p in load_split("stsb", "train", root) if p.score is not None and p.score >= 4.0]


def _mrpc(root: Path) -> list[Pair]:
    return [(p.text_a, p.text_b) for p in load_split("mrpc", "train", root) if p.label == "1"]


def _sick(root: Path) -> list[Pair]:
    return [(p.text_a, p.text_b) for p in load_split("sick2014", "train", root) if p.label == "ENTAILMENT"]


def _snli(root: Path) -> list[Pair]:
    return [(p.text_a, p.text_b) for p in load_split("snli", "dev", root) if p.label == "entailment"]


def _agnews(root: Path) -> list[Pair]:
    """Title -> description of the AG News test file (the only copy with separate titles)."""
    titles = read_csv(root / "ag_news/test.csv", text="Title", label="Class Index")
    bodies = read_csv(root / "ag_news/test.csv", text="Description", label="Class Index")
    return [(t.text, b.text) for t, b in zip(titles, bodies) if t.text and b.text]


SOURCES = {"stsb": _stsb, "mrpc": _mrpc, "sick": _sick, "snli": _snli, "agnews_title_body": _agnews}
assert tuple(SOURCES) == PAIR_SOURCES


def load_pair_sources(names: list[str], data_root: str | Path | None, pair_files: list[Path] = (),
                      simcse_corpus: Path | None = None, simcse_limit: int = 10000) -> dict[str, list[Pair]]:
    """Named pair lists. ``pair_files`` are TSV ``text_a<TAB>text_b`` files; ``simcse_corpus`` adds
    (s, s) pairs whose two views differ only by dropout (SimCSE)."""
    out: dict[str, list[Pair]] = {}
    for name in names:
        if name not in SOURCES:
            raise MtpfError(f"unknown pair source {name!r}; known: {', '.join(SOURCES)}")
        if data_root is None:
            raise MtpfError("pair sources from the shared data need --data-root")
        out[name] = SOURCES[name](Path(data_root))
    for f in pair_files:
        out[Path(f).stem] = [(p.text_a, p.text_b) for p in read_tsv_pairs(f, a=0, b=1, header=False)]
    if simcse_corpus is not None:
        out["simcse"] = [(s, s) for s in read_corpus(simcse_corpus)[:simcse_limit]]
    for name, pairs in out.items():
        if not pairs:
            raise MtpfError(f"pair source {name!r} is empty")
    if not out:
        raise MtpfError("the TC objective needs pairs: --pairs NAME[,NAME], --pair-file FILE or --simcse-corpus FILE")
    return out

