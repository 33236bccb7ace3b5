"""``tc``: a label and probabilities per text, from the adapter's head on the mean-pooled embedding."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...data.tokenization import content_window
from ..inputs import as_texts, positive_int
from ..results import Classification

if TYPE_CHECKING:
    from ..system import Adapter, SystemModel


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def classifications(labels: list[str], probs: np.ndarray, truncated: list[bool], tokens: list[int],
                    empty: list[bool]) -> list[Classification]:
    """One ``Classification`` per row of ``probs``."""
    return [Classification(labels[int(p.argmax())], float(p.max()), {l: float(v) for l, v in zip(labels, p)},
                           truncated=t, tokens=n, empty=e)
            for p, t, n, e in zip(probs, truncated, tokens, empty)]


def classify(system: SystemModel, texts, adapter: Adapter | str, batch_size: int = 32):
    """Label + probabilities per text (one result for one str)."""
    items, single = as_texts(texts)
    found, weight, bias = system.require(adapter, "tc")
    pooled, lengths = system.mean_pooled(items, found, found.normalize, positive_int(batch_size, "batch_size"))
    window = content_window(found.max_length)
    out = classifications(found.labels, softmax(pooled @ weight.T + bias), [n > window for n in lengths], lengths,
                          [n == 0 for n in lengths])
    return out[0] if single else out
