"""A plain epoch loop (AdamW, optional linear decay) with a progress bar."""
from __future__ import annotations

import random
from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from .features import shuffled_batches


def train_epochs(
    params: list[torch.nn.Parameter],
    n_examples: int,
    make_batch: Callable[[list[int]], dict],
    loss_fn: Callable[[dict], torch.Tensor],
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float,
    rng: random.Random,
    desc: str,
    decay: bool = True,
    clip_grad_norm: float | None = 1.0,
) -> list[float]:
    """Train ``params`` for ``epochs``; returns the mean loss of each epoch."""
    if epochs <= 0:
        return []
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    steps = epochs * ((n_examples + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / steps) if decay else 1.0)
    history = []
    bar = tqdm(total=steps, desc=desc, unit="step", leave=False, dynamic_ncols=True)
    for epoch in range(epochs):
        total, count = 0.0, 0
        for idx in shuffled_batches(n_examples, batch_size, rng):
            loss = loss_fn(make_batch(idx))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip_grad_norm:
                torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            count += len(idx)
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{total / count:.4f}")
        history.append(total / max(count, 1))
    bar.close()
    return history
