"""The one multi-objective update both trainers use (``pretrain`` and ``adapt multitask``).

The task losses of a step are combined (``sum`` / ``gls`` / ``fls``) by weighting each task's backward
pass with d(total)/d(L_task) at the current values, so a task's backward can run on its own (a
GradCache replay, a task-primary LoRA's graph) and PCGrad can project the per-task gradients of the
shared parameters before they are summed."""
from __future__ import annotations

import random
from collections.abc import Callable

import torch

from .loss_combination import combine_losses
from .pcgrad import pcgrad


def combination_weights(losses: dict[str, torch.Tensor], how: str, focus: tuple[str, ...] = ()
                        ) -> tuple[dict[str, float], float]:
    """(d total / d L_t for each task, total) of ``combine_losses`` at the losses' current values."""
    leaves = {t: v.detach().clone().requires_grad_(True) for t, v in losses.items()}
    total = combine_losses(leaves, how, focus)
    grads = torch.autograd.grad(total, list(leaves.values()))
    return {t: float(g.detach()) for t, g in zip(leaves, grads)}, float(total.detach())


def take_flat_grads(params: list[torch.Tensor]) -> torch.Tensor:
    """The gradients of ``params`` as one flat vector (zeros where none); the gradients are cleared."""
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in params])
    for p in params:
        p.grad = None
    return flat


def put_flat_grads(params: list[torch.Tensor], flat: torch.Tensor) -> None:
    """Set the gradients of ``params`` from one flat vector (the inverse of ``take_flat_grads``)."""
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def multi_objective_backward(tasks: list[str], backward: Callable[[str, float], None], weights: dict[str, float],
                             shared: list[torch.Tensor], use_pcgrad: bool, rng: random.Random,
                             reduce: Callable[[torch.Tensor], None] | None = None) -> None:
    """Run ``backward(task, weight)`` for each task; with ``use_pcgrad`` the shared parameters' per-task
    gradients are taken after each (``reduce``: e.g. an all-reduce over ranks), projected with PCGrad
    and summed into their ``.grad``. Other parameters accumulate their weighted gradients as usual."""
    per_task: list[torch.Tensor] = []
    for task in tasks:
        backward(task, weights[task])
        if use_pcgrad:
            per_task.append(take_flat_grads(shared))
    if use_pcgrad:
        if reduce is not None:
            for g in per_task:
                reduce(g)
        put_flat_grads(shared, pcgrad(per_task, rng))
