"""Gradient caching for InfoNCE (Gao et al., 2021; the technique behind sentence-transformers'
CachedMultipleNegativesRankingLoss): embed the big batch in chunks without a graph, take the loss and
its gradient w.r.t. the embeddings, then re-run each chunk with a graph and back-propagate that
gradient. Memory is one chunk's activations; the gradient equals the full-batch one. Dropout is
replayed exactly by restoring each chunk's RNG state."""
from __future__ import annotations

from collections.abc import Callable

import torch

Embed = Callable[[dict], torch.Tensor]


def _chunks(batch: dict, size: int) -> list[dict]:
    n = batch["input_ids"].shape[0]
    return [{k: v[i : i + size] for k, v in batch.items()} for i in range(0, n, size)]


class CachedContrastive:
    """``loss = cache.loss(fn)`` (graph only from the embeddings), then ``cache.backward(loss, w)``."""

    def __init__(self, embed: Embed, inputs: list[dict], chunk_size: int):
        self.embed = embed
        self.chunks = [_chunks(b, chunk_size) for b in inputs]
        self.states: list[list[torch.Tensor]] = []
        reps = []
        with torch.no_grad():
            for side in self.chunks:
                states, side_reps = [], []
                for chunk in side:
                    states.append(torch.get_rng_state())
                    side_reps.append(embed(chunk))
                self.states.append(states)
                reps.append(torch.cat(side_reps))
        self.rng_after = torch.get_rng_state()
        self.leaves = [r.detach().requires_grad_(True) for r in reps]

    def loss(self, fn: Callable[..., torch.Tensor]) -> torch.Tensor:
        return fn(*self.leaves)

    def backward(self, loss: torch.Tensor, weight: float = 1.0) -> None:
        """Back-propagate ``weight * loss`` into the model, one chunk at a time."""
        (loss * weight).backward()
        for side, states, leaf in zip(self.chunks, self.states, self.leaves):
            offset = 0
            for chunk, state in zip(side, states):
                n = chunk["input_ids"].shape[0]
                torch.set_rng_state(state)
                self.embed(chunk).backward(leaf.grad[offset : offset + n])
                offset += n
        torch.set_rng_state(self.rng_after)
