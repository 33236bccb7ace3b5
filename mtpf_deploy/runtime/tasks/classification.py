"""``tc``: a label and probabilities per text, from the adapter's head on the mean-pooled embedding."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...data.tokenization import content_window
from ..inputs import as_texts, positive_int
from ..results import Classification, check_finite

if TYPE_CHECKING:
    from ..system import Adapter, SystemModel



def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


HEAD_CHUNK = 1024  # rows whose label scores are computed together
MAX_PROBABILITIES = 100  # a result lists every label's probability up to this many labels, else the top ones


def _probabilities(labels: list[str], p: np.ndarray) -> dict[str, float]:
    if len(labels) <= MAX_PROBABILITIES:
        return {l: float(v) for l, v in zip(labels, p)}
    top = np.argpartition(-p, MAX_PROBABILITIES - 1)[:MAX_PROBABILITIES]
    return {labels[int(i)]: float(p[i]) for i in top[np.argsort(-p[top], kind="stable")]}


def classifications(labels: list[str], probs: np.ndarray, truncated: list[bool], tokens: list[int],
                    empty: list[bool]) -> list[Classification]:
    """One ``Classification`` per row of ``probs`` (``probabilities``: every label, or the
    ``MAX_PROBABILITIES`` most probable when there are more)."""
    return [Classification(labels[int(p.argmax())], float(p.max()), _probabilities(labels, p),
                           truncated=t, tokens=n, empty=e)
            for p, t, n, e in zip(probs, truncated, tokens, empty)]


def classify(system: SystemModel, texts, adapter: Adapter | str, batch_size: int = 32):
    """Label + probabilities per text (one result for one str)."""
    items, single = as_texts(texts)
    found = system.require(adapter, "tc")[0]
    window = content_window(found.max_length)
    out = []
    for probs, part in label_probabilities(system, items, found, batch_size):
        out += classifications(found.labels, probs, [n > window for n in part], part, [n == 0 for n in part])
    return out[0] if single else out


def label_probabilities(system: SystemModel, items: list[str], adapter: Adapter | str, batch_size: int = 32):
    """Yield (probabilities [rows, labels], sub-word counts) in chunks of ``HEAD_CHUNK`` texts (bounded memory
    for any label count): what ``classify`` reports, ``migrate``'s teacher."""
    found, weight, bias = system.require(adapter, "tc")
    pooled, lengths = system.pooled(items, found, found.normalize, positive_int(batch_size, "batch_size"), found.pooling)
    if found.pooler is not None:  # a SEQ_CLS head: BERT's pooler on the [CLS] vector first
        pooled = np.tanh(pooled @ found.pooler[0].T + found.pooler[1])
    for k in range(0, len(pooled), HEAD_CHUNK):
        logits = pooled[k : k + HEAD_CHUNK] @ weight.T + bias
        check_finite(logits, found)
        yield softmax(logits), lengths[k : k + HEAD_CHUNK]
