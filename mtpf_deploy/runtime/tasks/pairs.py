"""``sts`` and ``pair-tc``: a score or a label per (text_a, text_b), from the two mean-pooled embeddings."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...data.tokenization import content_window
from ..inputs import as_pairs, positive_int
from ..results import check_finite
from .classification import classifications, softmax

if TYPE_CHECKING:
    from ..system import Adapter, SystemModel


def _embedded(system: SystemModel, pairs, adapter: Adapter | str, task: str, batch_size: int):
    """(single pair?, adapter, head weight, head bias, u, v, sub-words of each a, of each b) for a pair call;
    None when there is no pair."""
    items, single = as_pairs(pairs)
    found, weight, bias = system.require(adapter, task)
    if not items:
        return None
    n = len(items)
    pooled, lengths = system.pooled([a for a, _ in items] + [b for _, b in items], found, found.normalize,
                                         positive_int(batch_size, "batch_size"))
    return single, found, weight, bias, pooled[:n], pooled[n:], lengths[:n], lengths[n:]


def similarity(system: SystemModel, pairs, adapter: Adapter | str, batch_size: int = 32):
    """The ``sts`` head scales the cosine of the two embeddings. One float for one pair, else a list."""
    call = _embedded(system, pairs, adapter, "sts", batch_size)
    if call is None:
        return []
    single, found, weight, bias, u, v, _, _ = call
    cos = (u * v).sum(1) / np.maximum(np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1), 1e-12)
    raw = cos * weight[0, 0] + bias[0]
    check_finite(raw, found)
    scores = [float(c) for c in raw]
    return scores[0] if single else scores


def pair_probabilities(found, weight: np.ndarray, bias: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The ``pair-tc`` head's probabilities on [u, v, |u - v|, u * v]."""
    logits = np.concatenate([u, v, np.abs(u - v), u * v], 1) @ weight.T + bias
    check_finite(logits, found)
    return softmax(logits)


def classify_pairs(system: SystemModel, pairs, adapter: Adapter | str, batch_size: int = 32):
    """The ``pair-tc`` head on [u, v, |u - v|, u * v]. One result for one pair."""
    call = _embedded(system, pairs, adapter, "pair-tc", batch_size)
    if call is None:
        return []
    single, found, weight, bias, u, v, la, lb = call
    probs = pair_probabilities(found, weight, bias, u, v)
    window = content_window(found.max_length)
    out = classifications(found.labels, probs, [max(a, b) > window for a, b in zip(la, lb)],
                          [a + b for a, b in zip(la, lb)], [a == 0 or b == 0 for a, b in zip(la, lb)])
    return out[0] if single else out
