"""Evaluation metrics: entity-level F1 (seqeval, IOB2 strict) and accuracy / macro-F1."""
from __future__ import annotations

from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.scheme import IOB2
from sklearn.metrics import accuracy_score
from sklearn.metrics import f1_score as sk_f1


def ner_metrics(gold: list[list[str]], pred: list[list[str]]) -> dict:
    """Strict IOB2 entity-level precision/recall/F1 plus per-type scores."""
    kw = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    report = classification_report(gold, pred, output_dict=True, **kw)
    per_type = {k: {m: float(v[m]) for m in ("precision", "recall", "f1-score", "support")}
                for k, v in report.items() if not k.endswith("avg")}
    return {
        "f1": float(f1_score(gold, pred, **kw)),
        "precision": float(precision_score(gold, pred, **kw)),
        "recall": float(recall_score(gold, pred, **kw)),
        "per_type": per_type,
        "sentences": len(gold),
    }


def tc_metrics(gold: list[str], pred: list[str]) -> dict:
    """Accuracy and macro-F1 over the labels that occur in gold or predictions."""
    return {"accuracy": float(accuracy_score(gold, pred)),
            "f1_macro": float(sk_f1(gold, pred, average="macro", zero_division=0)),
            "examples": len(gold)}
