"""Which batches each step of ``adapt multitask`` trains (the second source's Sec. 4.3).

A schedule is a list of steps; a step is a list of (task, batch) pairs, where ``batch`` is a list of
example indices of that task's train split."""
from __future__ import annotations

import random


def _pass(n: int, batch_size: int, rng: random.Random) -> list[list[int]]:
    order = list(range(n))
    rng.shuffle(order)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def epoch_schedule(sizes: dict[str, int], batch_size: int, how: str, rng: random.Random) -> list[list[tuple[str, list[int]]]]:
    """``sequential``: every batch of the first task, then of the next (one task per step).
    ``parallel``: one batch of every task per step; the epoch stops when any task runs out (a break).
    ``round-robin``: one batch of every task per step in a fixed order until the largest task is used up;
    a smaller task that runs out starts a new shuffled pass (resampling)."""
    passes = {t: _pass(n, batch_size, rng) for t, n in sizes.items()}
    if how == "sequential":
        return [[(t, b)] for t in sizes for b in passes[t]]
    if how == "parallel":
        return [[(t, passes[t][i]) for t in sizes] for i in range(min(len(p) for p in passes.values()))]
    if how == "round-robin":
        steps = max(len(p) for p in passes.values())
        for t, n in sizes.items():
            while len(passes[t]) < steps:
                passes[t] += _pass(n, batch_size, rng)
        return [[(t, passes[t][i]) for t in sizes] for i in range(steps)]
    raise ValueError(f"task sampling must be sequential, parallel or round-robin, not {how!r}")
