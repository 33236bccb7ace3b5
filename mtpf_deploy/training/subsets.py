"""The train split an adapter sees: a seeded low-resource fraction, and labels it never shows."""
from __future__ import annotations

import random
from collections.abc import Callable

from ..errors import MtpfError


def subsample(records: list, fraction: float, seed: int) -> list:
    """A seeded ``fraction`` of ``records`` (low-resource setting); at least one record."""
    if not 0 < fraction <= 1:
        raise MtpfError(f"--train-fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return records
    k = max(1, int(round(len(records) * fraction)))
    idx = sorted(random.Random(seed).sample(range(len(records)), k))
    return [records[i] for i in idx]


def report_unseen_labels(labels_by_split: dict[str, list[str]], known: set[str], log: Callable[[str], None]) -> dict:
    """Warn about labels that occur in dev/test but never in train (the model can never predict them)."""
    unseen = {}
    for split, labels in labels_by_split.items():
        if split == "train":
            continue
        missing = sorted(set(labels) - known)
        if missing:
            unseen[split] = missing
            log(f"warning: label(s) {', '.join(missing)} occur in {split} but never in train; "
                "they can never be predicted and count as errors")
    return unseen
