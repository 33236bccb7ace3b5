"""The adaptation recipe both tasks share (paper App. A): the head alone first (LoRA frozen), then
LoRA + head together; and putting a saved head back into a ``torch.nn.Linear``."""
from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch

from ..loop import train_epochs
from .config import AdaptConfig


def warmup_then_joint(
    head: torch.nn.Module,
    lora: list[torch.nn.Parameter],
    n_examples: int,
    warmup: tuple[Callable[[list[int]], dict], Callable[[dict], torch.Tensor]],
    joint: tuple[Callable[[list[int]], dict], Callable[[dict], torch.Tensor]],
    cfg: AdaptConfig,
    warmup_epochs: int,
    epochs: int,
    rng: random.Random,
) -> tuple[list[float], list[float]]:
    """Train ``head`` alone for ``warmup_epochs`` (constant ``head_lr``), then ``lora`` + ``head`` for
    ``epochs`` (``lora_lr``, ``cfg.schedule``), both with ``cfg.clip_grad_norm``. ``warmup``/``joint``
    are (make_batch, loss_fn) pairs.
    Returns the per-epoch mean losses of both phases."""
    for p in lora:
        p.requires_grad_(False)
    for p in head.parameters():
        p.requires_grad_(True)
    warm = train_epochs(list(head.parameters()), n_examples, *warmup, epochs=warmup_epochs, lr=cfg.head_lr,
                        batch_size=cfg.batch_size, weight_decay=cfg.weight_decay, rng=rng, desc="head warm-up",
                        decay=False, clip_grad_norm=cfg.clip_grad_norm or None)
    for p in lora:
        p.requires_grad_(True)
    together = train_epochs(lora + list(head.parameters()), n_examples, *joint, epochs=epochs, lr=cfg.lora_lr,
                            batch_size=cfg.batch_size, weight_decay=cfg.weight_decay, rng=rng, desc="joint LoRA + head",
                            decay=cfg.schedule == "linear", clip_grad_norm=cfg.clip_grad_norm or None)
    return warm, together


def load_head(linear: torch.nn.Linear, head: dict[str, np.ndarray]) -> None:
    """Copy a saved head (``weight`` [C, H], ``bias`` [C]) into ``linear``."""
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(np.array(head["weight"])))
        linear.bias.copy_(torch.from_numpy(np.array(head["bias"])))


def lora_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for n, p in model.named_parameters() if "lora_" in n]
