"""Pre-finetuning objectives, one file per loss (as in sentence-transformers), and the table the
trainer reads: objective name -> (batch maker, loss). A task kind names its objective in the task
table (``formats/tasks.py``: ``pretrain_objective``); adding one = a loss file, a batch maker and a
line here (docs/architecture.md)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from ....formats.tasks import task_spec
from ...features import pad_batch, token_features
from .infonce import info_nce
from .token_ce import token_cross_entropy

if TYPE_CHECKING:
    from ..trainer import Pretrainer


def pair_batch(trainer: Pretrainer) -> tuple[dict, dict]:
    """A batch of (anchor, positive) text pairs from one pair source (this rank's share)."""
    name, idx = trainer.tc_sampler.next_batch()
    pairs = [trainer.pairs[name][i] for i in trainer.dist.shard(idx, equal=True)]
    dev = trainer.cfg.device
    a = {k: v.to(dev) for k, v in pad_batch(trainer.rows([p[0] for p in pairs]), trainer.pad).items()}
    b = {k: v.to(dev) for k, v in pad_batch(trainer.rows([p[1] for p in pairs]), trainer.pad).items()}
    return a, b


def contrastive_loss(trainer: Pretrainer, task: str, batch: tuple[dict, dict]) -> torch.Tensor:
    """InfoNCE of the pair batch with the task's LoRA active (global batch under DDP)."""
    a, b = batch
    return trainer.info_nce(trainer.forward(task, a), trainer.forward(task, b))


def tagged_batch(trainer: Pretrainer) -> dict:
    """A batch of pseudo-labelled sentences, labels on first sub-words."""
    idx = trainer.dist.shard(trainer.ner_sampler.next_batch())
    label2id = {l: i for i, l in enumerate(trainer.ner_labels)}
    feats = token_features(trainer.tok, [trainer.ner_sentences[i] for i in idx], label2id, trainer.cfg.max_length)
    batch = pad_batch([f.input_ids for f in feats], trainer.pad, [f.labels for f in feats])
    return {k: v.to(trainer.cfg.device) for k, v in batch.items()}


def token_loss(trainer: Pretrainer, task: str, batch: dict) -> torch.Tensor:
    """Token cross-entropy of the tagged batch with the task's LoRA active."""
    return token_cross_entropy(trainer.forward(task, batch), batch["labels"])


@dataclass(frozen=True)
class Objective:
    """How the trainer makes a batch of this objective and computes its loss (with graphs)."""

    batch: Callable[[Pretrainer], Any]
    loss: Callable[[Pretrainer, str, Any], torch.Tensor]
    contrastive: bool = False  # in-batch negatives: GradCache (``--tc-chunk-size``) may replay it in chunks


OBJECTIVES: dict[str, Objective] = {
    "infonce": Objective(pair_batch, contrastive_loss, contrastive=True),
    "token-ce": Objective(tagged_batch, token_loss),
}


def objective_of(task: str) -> Objective:
    """The pre-finetuning objective of task kind ``task``."""
    name = task_spec(task).pretrain_objective
    if name is None:
        raise ValueError(f"task {task!r} has no pre-finetuning objective")
    return OBJECTIVES[name]


__all__ = ["OBJECTIVES", "Objective", "objective_of", "info_nce", "token_cross_entropy"]
