"""The metric of what ships: task scores of the runtime's own outputs (``SystemModel.entities`` and
``classify``: its tokenization, windows, decoding and character spans), torch-free. Used by the
export accuracy gate, ``adapt ner``'s report and the benchmarks; beside seqeval's token-level F1
they say what an app gets."""
from __future__ import annotations

from collections.abc import Sequence

from tqdm.auto import tqdm

from ..data.bio import bio_entity_spans
from ..data.types import LabeledText, TaggedSentence

Span = tuple[str, int, int]  # (type, start, end) in characters


def text_and_gold(sentence: TaggedSentence) -> tuple[str, set[Span]]:
    """The sentence's words joined by single spaces, and its gold entities as character spans
    (strict IOB2, as seqeval's strict mode reads the tags)."""
    starts, at = [], 0
    for w in sentence.words:
        starts.append(at)
        at += len(w) + 1
    spans = {(kind, starts[a], starts[b] + len(sentence.words[b])) for kind, a, b in bio_entity_spans(sentence.tags)}
    return " ".join(sentence.words), spans


def entity_prf(gold: Sequence[set], pred: Sequence[set]) -> dict:
    """Micro precision, recall and F1 of exact (type, span) matches."""
    tp = sum(len(g & p) for g, p in zip(gold, pred))
    n_gold, n_pred = sum(map(len, gold)), sum(map(len, pred))
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall, "gold": n_gold, "predicted": n_pred}


def runtime_entities(system, adapter: str, texts: Sequence[str], desc: str = "entities") -> list[set[Span]]:
    """``system.entities`` of each text, one text per call (as an app sends them), as span sets."""
    return [{(e.label, e.start, e.end) for e in system.entities(t, adapter)}
            for t in tqdm(texts, desc=desc, leave=False, disable=None)]


def shipped_ner_scores(system, adapter: str, sentences: Sequence[TaggedSentence], desc: str = "entities") -> dict:
    """Entity P/R/F1 of the runtime's entities against the gold ones (type + exact character span)."""
    texts, gold = zip(*(text_and_gold(s) for s in sentences)) if sentences else ((), ())
    return entity_prf(gold, runtime_entities(system, adapter, texts, desc))


def runtime_labels(system, adapter: str, texts: Sequence[str], batch: int = 32) -> list[str]:
    """``system.classify`` labels of the texts."""
    out: list[str] = []
    for k in tqdm(range(0, len(texts), batch), desc="classify", leave=False, disable=None):
        out += [r.label for r in system.classify(list(texts[k:k + batch]), adapter)]
    return out


def agreement(a: Sequence[str], b: Sequence[str]) -> float:
    """The fraction of positions where two label lists agree."""
    return sum(x == y for x, y in zip(a, b)) / len(a) if a else 0.0


def accuracy(labels: Sequence[str], examples: Sequence[LabeledText]) -> float:
    """The fraction of examples whose label is the predicted one."""
    return agreement(labels, [x.label for x in examples])


def shipped_tc_scores(system, adapter: str, examples: Sequence[LabeledText]) -> dict:
    """Accuracy of the runtime's labels."""
    labels = runtime_labels(system, adapter, [x.text for x in examples])
    return {"accuracy": accuracy(labels, examples), "examples": len(examples)}
