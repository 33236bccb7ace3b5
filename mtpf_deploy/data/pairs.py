"""Sentence-pair files: STS-B (7 fields, quoting off), MRPC (BOM), SICK (CRLF), SNLI TSV (corpus readers: ``corpus.py``)."""
from __future__ import annotations

from pathlib import Path

from ..errors import DataFormatError
from .io import read_lines
from .types import TextPair


def read_tsv_pairs(
    path: str | Path,
    a: int,
    b: int,
    label: int | None = None,
    score: int | None = None,
    header: bool = True,
) -> list[TextPair]:
    """Tab-separated pairs, split on tabs with no quote handling (STS-B has stray quotes)."""
    out = []
    cols = [c for c in (a, b, label, score) if c is not None]
    need = max(cols) + 1
    for number, line in read_lines(path):
        if header and number == 1:
            continue
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < need:
            raise DataFormatError(path, number, f"expected at least {need} tab-separated fields, got {len(fields)}")
        value = None
        if score is not None:
            try:
                value = float(fields[score])
            except ValueError:
                raise DataFormatError(path, number, f"score {fields[score]!r} is not a number") from None
        out.append(
            TextPair(
                fields[a].strip(),
                fields[b].strip(),
                label=fields[label].strip() if label is not None else None,
                score=value,
            )
        )
    return out
