"""``ner``: entities with exact character offsets; long texts run in overlapping windows."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...data.tokenization import WordEncoding, content_window, encode_text, windows
from ...errors import InputError
from ..inputs import as_texts, positive_int
from ..results import check_finite
from .classification import softmax
from .ner_decode import best_window_per_token, decode_entities, word_predictions

if TYPE_CHECKING:
    from ..system import Adapter, SystemModel


def default_stride(window: int) -> int:
    """Windows of ``window`` tokens overlap by a quarter window, at most 32 tokens (the context a
    token near a cut gets is at least half the overlap)."""
    return max(1, window - min(window // 4, 32))


def entities(system: SystemModel, texts, adapter: Adapter | str, batch_size: int = 32, stride: int | None = None):
    """Entities per text (one list for one str); each token is read in the window where it is most central."""
    items, single = as_texts(texts)
    found = system.require(adapter, "ner")[0]
    out = [decode_entities(text, enc, word_predictions(enc, probs), found.labels) if probs is not None else []
           for text, (enc, probs) in zip(items, token_probabilities(system, items, found, batch_size, stride))]
    return out[0] if single else out


def token_probabilities(system: SystemModel, items: list[str], adapter: Adapter | str, batch_size: int = 32,
                        stride: int | None = None) -> list[tuple[WordEncoding, np.ndarray | None]]:
    """Each text's sub-words and their label probabilities [sub-words, labels] (None: no sub-word), each
    token read in the window where it is most central (what ``entities`` decodes; ``migrate``'s teacher)."""
    found, weight, bias = system.require(adapter, "ner")
    batch_size = positive_int(batch_size, "batch_size")
    size = content_window(found.max_length)
    stride = default_stride(size) if stride is None else positive_int(stride, "stride")
    if stride > size:
        raise InputError(f"stride {stride} is larger than the window ({size} tokens): tokens would be skipped")
    encs = [encode_text(system.tokenizer, t) for t in items]
    rows, spans_of = [], []  # one row per window
    for enc in encs:
        spans = windows(len(enc.ids), size, stride) if enc.ids else []
        spans_of.append(spans)
        rows += [[system.cls_id, *enc.ids[s:e], system.sep_id] for s, e in spans]
    logits_of: dict[int, np.ndarray] = {}
    for i, h in system.batched(rows, found, batch_size):
        logits_of[i] = h[1:-1] @ weight.T + bias
        check_finite(logits_of[i], found)
    out: list[tuple[WordEncoding, np.ndarray | None]] = []
    row = 0
    for enc, spans in zip(encs, spans_of):
        if not spans:
            out.append((enc, None))
            continue
        pick = best_window_per_token(len(enc.ids), spans)
        logits = np.stack([logits_of[row + w][p] for w, p in pick])
        row += len(spans)
        out.append((enc, softmax(logits)))
    return out
