"""The task table: every adapter task kind, declared once. Torch-free.

Like ``lora_slots.py`` is for LoRA slots, this is the one place that says what a task kind is; the
adapter file and folder readers, ``pack``, the runtime's dispatch, ``predict``, ``evaluate`` and
``pretrain`` all derive their vocabularies from it. Adding a task kind = one ``TaskSpec`` here, its
runtime module (``runtime/tasks/``), its training module (``training/adapt/``) and tests
(docs/architecture.md, "add a task kind").
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import AdapterError


@dataclass(frozen=True)
class TaskSpec:
    """What one adapter task kind is."""

    name: str
    help: str
    inputs: str  # "text": one text per call item; "pair": (text_a, text_b)
    has_head: bool  # the adapter file carries head.safetensors
    head_input: str  # what the head reads: "hidden" (H), "pair-features" ([u, v, |u-v|, u*v]: 4H), "cosine" (1), "none"
    pooling: str | None  # "mean" (one vector per text) or None (per token)
    labels: str  # "bio" (IOB2 tags with "O"), "classes", "score" (one output name), "none"
    result: str  # what the runtime returns: "entities", "classification", "score", "embedding"
    metric: str | None  # how `adapt` / `evaluate` score it
    runtime: str  # SystemModel method that serves it
    pretrain_objective: str | None = None  # the pre-finetuning objective of this family (training/pretrain/objectives)
    evaluated: bool = False  # `evaluate` suites run its downstream protocol

    def head_width(self, hidden: int) -> int:
        """Input width of the task's head on a backbone of hidden size ``hidden``."""
        return {"hidden": hidden, "pair-features": 4 * hidden, "cosine": 1, "none": 0}[self.head_input]


TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in (
    TaskSpec("ner", "token tags (entities with character offsets)", "text", True, "hidden", None, "bio", "entities",
             "entity-f1", "entities", pretrain_objective="token-ce", evaluated=True),
    TaskSpec("tc", "classes of a text (mean-pooled embedding -> head)", "text", True, "hidden", "mean", "classes",
             "classification", "accuracy", "classify", pretrain_objective="infonce", evaluated=True),
    TaskSpec("pair-tc", "classes of a text pair (head on [u, v, |u-v|, u*v])", "pair", True, "pair-features", "mean",
             "classes", "classification", "accuracy", "classify_pairs"),
    TaskSpec("sts", "similarity score of a text pair (head scales the cosine)", "pair", True, "cosine", "mean", "score",
             "score", "pearson", "similarity"),
    TaskSpec("lora", "a LoRA alone (embeddings with it active)", "text", False, "none", "mean", "none", "embedding",
             None, "embed"),
)}
TASK_NAMES = tuple(TASKS)
HEAD_TASKS = tuple(n for n, s in TASKS.items() if s.has_head)
PAIR_TASKS = tuple(n for n, s in TASKS.items() if s.inputs == "pair")
PRETRAIN_TASKS = tuple(n for n, s in TASKS.items() if s.pretrain_objective)
EVALUATED_TASKS = tuple(n for n, s in TASKS.items() if s.evaluated)
HEAD_KINDS = ("linear", "logistic-regression", "cosine", "pooler-linear")
# "pooler-linear": a tc head that reads the [CLS] vector through BERT's pooler (tanh(W_p h + b_p)) first, as
# transformers' *ForSequenceClassification does (a PEFT SEQ_CLS adapter); head tensors weight, bias,
# pooler_weight [H, H], pooler_bias [H]; the adapter's pooling is "cls"
POOLER_HEAD = "pooler-linear"
POOLER_TENSORS = ("pooler_weight", "pooler_bias")


def task_spec(name: object, where: str = "task") -> TaskSpec:
    """The spec of task ``name``; an unknown name is an error listing the known ones."""
    if not isinstance(name, str) or name not in TASKS:
        raise AdapterError(f"{where}: unknown task {name!r} (known: {', '.join(TASK_NAMES)})")
    return TASKS[name]


def head_width(task: str, hidden: int) -> int:
    """Input width of a task's head: the hidden size; 4x for a pair classifier; 1 (the cosine) for sts."""
    return task_spec(task).head_width(hidden)


def check_labels(task: str, labels: list[str], where: str) -> None:
    """The label rule of ``task`` (label names themselves are checked by the readers): IOB2 over the
    declared entity types for ``bio`` (``O`` + ``B-X`` and ``I-X`` for each type X), at least two classes
    for ``classes``."""
    spec = task_spec(task, where)
    if spec.has_head and not labels:
        raise AdapterError(f"{where}: field 'labels' is empty; a {task} adapter needs its label names")
    if spec.labels == "bio":
        if "O" not in labels:
            raise AdapterError(f"{where}: field 'labels' of an ner adapter must include 'O'")
        bad = [l for l in labels if l != "O" and (l[:2] not in ("B-", "I-") or len(l) < 3)]
        if bad:
            raise AdapterError(f"{where}: field 'labels' of an ner adapter must be IOB2 tags (O, B-TYPE, I-TYPE); "
                               f"{', '.join(map(repr, bad[:5]))} {'is' if len(bad) == 1 else 'are'} not")
        types = {l[2:] for l in labels if l != "O"}
        unpaired = sorted(t for t in types if f"B-{t}" not in labels or f"I-{t}" not in labels)
        if unpaired:
            raise AdapterError(f"{where}: field 'labels' of an ner adapter needs both B- and I- tags of each entity "
                               f"type; {', '.join(unpaired[:5])} lack{'s' if len(unpaired) == 1 else ''} one")
    if spec.labels == "classes" and len(labels) < 2:
        raise AdapterError(f"{where}: field 'labels' of a {task} adapter needs at least 2 classes, it has {len(labels)}")
