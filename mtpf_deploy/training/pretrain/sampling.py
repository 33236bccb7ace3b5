"""Deterministic, resumable sampling: which tasks a step trains on, and which examples it sees.

All randomness is derived from ``(seed, counters)``, so a checkpoint stores a few integers and a
resumed run sees exactly the data order of an uninterrupted one."""
from __future__ import annotations

import random

from .config import TASK_SAMPLING


def tasks_for_step(step: int, tasks: list[str], mode: str, sizes: dict[str, int], seed: int) -> list[str]:
    """``alternate``: one task per step in fixed order.  ``round-robin``: every task each step, in
    fixed order (smaller datasets are resampled when exhausted).  ``proportional``: one task per step,
    drawn with probability proportional to its dataset size."""
    if mode == "alternate":
        return [tasks[step % len(tasks)]]
    if mode == "round-robin":
        return list(tasks)
    if mode == "proportional":
        rng = random.Random(f"{seed}:task:{step}")
        return rng.choices(tasks, weights=[sizes[t] for t in tasks])
    raise ValueError(f"task sampling must be one of {TASK_SAMPLING}, not {mode!r}")


class EpochSampler:
    """Batches of indices over ``range(n)``; a fresh seeded permutation each epoch (no partial batches
    unless ``n < batch_size``)."""

    def __init__(self, n: int, batch_size: int, seed: int | str):
        if n <= 0:
            raise ValueError("cannot sample from an empty dataset")
        self.n, self.batch_size, self.seed = n, min(batch_size, n), seed
        self.epoch, self.pos = 0, 0
        self._order = self._permutation()

    def _permutation(self) -> list[int]:
        order = list(range(self.n))
        random.Random(f"{self.seed}:epoch:{self.epoch}").shuffle(order)
        return order

    def next_batch(self) -> list[int]:
        if self.pos + self.batch_size > self.n:
            self.epoch, self.pos = self.epoch + 1, 0
            self._order = self._permutation()
        batch = self._order[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return batch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._order = self._permutation()


class HierarchicalSampler:
    """Pick a dataset (weighted by size, or uniformly), then a batch from it (paper App. B)."""

    def __init__(self, sizes: dict[str, int], batch_size: int, seed: int, weighting: str = "size"):
        if weighting not in ("size", "uniform"):
            raise ValueError(f"dataset weighting must be size or uniform, not {weighting!r}")
        self.names = sorted(sizes)
        self.weights = [sizes[n] if weighting == "size" else 1 for n in self.names]
        self.samplers = {n: EpochSampler(sizes[n], batch_size, f"{seed}:{n}") for n in self.names}
        self.seed, self.draws = seed, 0

    def next_batch(self) -> tuple[str, list[int]]:
        name = random.Random(f"{self.seed}:dataset:{self.draws}").choices(self.names, weights=self.weights)[0]
        self.draws += 1
        return name, self.samplers[name].next_batch()

    def state_dict(self) -> dict:
        return {"draws": self.draws, "samplers": {n: s.state_dict() for n, s in self.samplers.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.draws = int(state["draws"])
        for n, s in state["samplers"].items():
            self.samplers[n].load_state_dict(s)
