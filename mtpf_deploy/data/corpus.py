"""Unlabelled text files: one sentence per line, or Leipzig ``id<TAB>sentence`` (detected)."""
from __future__ import annotations

from pathlib import Path

from ..errors import DataFormatError
from .io import read_lines


def read_corpus(path: str | Path) -> list[str]:
    """Sentences of a corpus file: one per line, or Leipzig ``id<TAB>sentence`` (detected)."""
    first = next((line for _, line in read_lines(path)), "")
    head, tab, _ = first.partition("\t")
    return read_unlabeled(path, 1 if tab and head.strip().isdigit() else None)


def read_unlabeled(path: str | Path, column: int | None = None) -> list[str]:
    """One text per line; ``column`` picks a tab field (Leipzig ``id<TAB>sentence``). Empty lines dropped."""
    out = []
    for number, line in read_lines(path):
        if not line.strip():
            continue
        if column is not None:
            fields = line.split("\t")
            if len(fields) <= column:
                raise DataFormatError(path, number, f"expected a tab field {column}, got {line[:60]!r}")
            line = fields[column]
        out.append(line.strip())
    return out
