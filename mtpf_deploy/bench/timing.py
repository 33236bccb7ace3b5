"""Interleaved timing: every variant runs once per round, so drift and noise hit all alike."""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def summary(ms: list[float]) -> dict[str, float]:
    return {"median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95)), "min_ms": float(np.min(ms)),
            "n": len(ms)}


def interleaved(calls: dict[str, Callable[[], object]], repeats: int, warmup: int,
                before_round: Callable[[], None] | None = None) -> dict[str, dict[str, float]]:
    """Median and p95 milliseconds of each call after ``warmup`` untimed rounds."""
    for _ in range(warmup):
        for fn in calls.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        if before_round is not None:
            before_round()
        for name, fn in calls.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: summary(t) for name, t in times.items()}


def token_rows(length: int, batch: int, vocab_lo: int, vocab_hi: int, cls_id: int, sep_id: int,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``batch`` rows of ``length`` ids ([CLS] … [SEP]) and their all-ones mask."""
    rng = np.random.default_rng(seed + length)
    ids = rng.integers(vocab_lo, vocab_hi, (batch, length)).astype(np.int64)
    ids[:, 0], ids[:, -1] = cls_id, sep_id
    return ids, np.ones_like(ids)
