"""Task data from a registered dataset or from arbitrary files (``--train FILE --format …``)."""
from __future__ import annotations

from pathlib import Path

from ..errors import MtpfError
from . import bio, text
from .registry import get_spec, load_split, split_names

NER_FORMATS = ("bio",)
TC_FORMATS = ("csv", "tsv", "label-text", "semicolon", "at", "jsonl", "json")


def read_file(path: str | Path, fmt: str, split: str = "train") -> list:
    """Read one file in a named format (``json`` takes the given split from a dict of splits)."""
    if fmt == "bio":
        return bio.read_bio(path)
    if fmt == "csv":
        return text.read_csv(path)
    if fmt == "tsv":
        return text.read_csv(path, delimiter="\t")
    if fmt == "label-text":
        return text.read_label_text(path)
    if fmt == "semicolon":
        return text.read_split_last(path, ";")
    if fmt == "at":
        return text.read_split_last(path, "@")
    if fmt == "jsonl":
        return text.read_jsonl(path)
    if fmt == "json":
        return text.read_json_splits(path, split)
    raise MtpfError(f"unknown format {fmt!r}; known: {', '.join(NER_FORMATS + TC_FORMATS)}")


def load_task_splits(
    task: str,
    dataset: str | None = None,
    data_root: str | Path | None = None,
    files: dict[str, str | Path | None] | None = None,
    fmt: str | None = None,
) -> dict[str, list]:
    """``{"train": [...], "dev": [...], "test": [...]}`` (dev/test only when present) for ``ner``/``tc``."""
    files = {k: v for k, v in (files or {}).items() if v}
    if dataset and files:
        raise MtpfError("pass either --dataset or --train/--dev/--test files, not both")
    if dataset:
        spec = get_spec(dataset)
        if spec.task != task:
            raise MtpfError(f"dataset {dataset!r} is a {spec.task} dataset, not {task}")
        if data_root is None:
            raise MtpfError(f"--dataset {dataset} needs --data-root (the folder holding {dataset}/)")
        names = split_names(dataset)
        if "train" not in names:
            raise MtpfError(f"dataset {dataset!r} has no train split (has {', '.join(names)})")
        return {s: load_split(dataset, s, data_root) for s in ("train", "dev", "test") if s in names}
    if "train" not in files:
        raise MtpfError("no training data: pass --dataset NAME --data-root DIR or --train FILE --format FMT")
    fmt = fmt or ("bio" if task == "ner" else None)
    if fmt is None:
        raise MtpfError(f"--format is required with --train (one of {', '.join(TC_FORMATS)})")
    allowed = NER_FORMATS if task == "ner" else TC_FORMATS
    if fmt not in allowed:
        raise MtpfError(f"format {fmt!r} does not fit task {task} (use one of {', '.join(allowed)})")
    out = {}
    for split, path in files.items():
        records = read_file(path, fmt, split)
        if not records:
            raise MtpfError(f"{path}: the {split} split is empty")
        out[split] = records
    return out
