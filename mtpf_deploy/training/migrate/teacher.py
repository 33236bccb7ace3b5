"""What the old backbone + adapter says on unlabelled inputs, through the runtime (torch-free): the
targets a migrated adapter learns. NER: each word's label distribution (read at its first sub-word,
each token in the window where it is most central: what ``entities`` decodes); tc / pair-tc: the class
distribution (the head's calibrated temperature is in its weights, so it is kept); sts: the score."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...runtime.system import Adapter, SystemModel
from ...runtime.tasks.classification import label_probabilities
from ...runtime.tasks.ner import token_probabilities


@dataclass
class Targets:
    """One target per input: ``soft[i]`` is [words, labels] (ner), [labels] (tc, pair-tc) or [1] (sts);
    ``spans[i]`` the character spans of a text's words (ner; else empty)."""

    task: str
    labels: list[str]
    inputs: list
    soft: list[np.ndarray]
    spans: list[list[tuple[int, int]]]


def teacher_targets(system: SystemModel, adapter: Adapter, inputs: list, batch_size: int = 32) -> Targets:
    task = adapter.task
    if task == "ner":
        soft, spans = [], []
        for enc, probs in token_probabilities(system, inputs, adapter, batch_size):
            first = dict((w, t) for t, w in enc.first_subwords())
            words = [w for w in range(len(enc.word_spans)) if w in first]
            soft.append(np.stack([probs[first[w]] for w in words]).astype(np.float32) if probs is not None and words
                        else np.zeros((0, len(adapter.labels)), np.float32))
            spans.append([tuple(enc.word_spans[w]) for w in words] if probs is not None else [])
        return Targets(task, adapter.labels, inputs, soft, spans)
    if task == "tc":
        soft = [row.astype(np.float32) for probs, _ in label_probabilities(system, inputs, adapter, batch_size)
                for row in probs]
    elif task == "pair-tc":
        results = system.classify_pairs(inputs, adapter, batch_size)
        soft = [np.array([r.probabilities.get(l, 0.0) for l in adapter.labels], np.float32) for r in results]
    elif task == "sts":
        soft = [np.array([s], np.float32) for s in system.similarity(inputs, adapter, batch_size)]
    else:
        raise ValueError(f"no teacher for task {task!r}")
    return Targets(task, adapter.labels, inputs, soft, [[] for _ in inputs])
