"""Pooling one text's token vectors into one vector, each mode as sentence-transformers' ``Pooling``
computes it (``formats/bundle.py``: ``POOLING_MODES``). ``hidden`` holds only the text's real tokens."""
from __future__ import annotations

import numpy as np


def pool(hidden: np.ndarray, mode: str) -> np.ndarray:
    """[T, H] -> [H]: ``mean``, ``cls`` (the first token), ``max``, ``lasttoken``, ``mean_sqrt_len_tokens``
    (sum / sqrt(T)), ``weightedmean`` (token t weighted t, from 1)."""
    if mode == "mean":
        return hidden.mean(0)
    if mode == "cls":
        return hidden[0]
    if mode == "max":
        return hidden.max(0)
    if mode == "lasttoken":
        return hidden[-1]
    if mode == "mean_sqrt_len_tokens":
        return hidden.sum(0) / np.sqrt(len(hidden))
    if mode == "weightedmean":
        weights = np.arange(1, len(hidden) + 1, dtype=np.float32)
        return (weights @ hidden) / weights.sum()
    raise ValueError(f"unknown pooling mode {mode!r}")
