"""PCGrad (Yu et al., 2020): project each task's gradient off the others' where they conflict."""
from __future__ import annotations

import random

import torch


def pcgrad(grads: list[torch.Tensor], rng: random.Random | None = None) -> torch.Tensor:
    """Combine flat per-task gradients: for each task i (others in random order), if ``g_i · g_j < 0``
    replace ``g_i`` by ``g_i - (g_i · g_j / |g_j|^2) g_j``; return the sum of the projected gradients."""
    rng = rng or random.Random(0)
    projected = [g.clone() for g in grads]
    for i, g_i in enumerate(projected):
        others = [j for j in range(len(grads)) if j != i]
        rng.shuffle(others)
        for j in others:
            g_j = grads[j]
            dot = torch.dot(g_i, g_j)
            if dot < 0:
                g_i -= dot / g_j.dot(g_j).clamp_min(1e-20) * g_j
    return torch.stack(projected).sum(0)
