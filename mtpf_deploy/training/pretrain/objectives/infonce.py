"""InfoNCE with in-batch negatives (paper Sec. 4): anchor i's only positive is pair i, every other
positive in the batch is a negative; embeddings are mean-pooled and L2-normalised."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(anchors: torch.Tensor, positives: torch.Tensor, temperature: float = 0.05) -> torch.Tensor:
    """``-mean_i log softmax_j(<a_i, p_j> / tau)[i]`` over L2-normalised ``[N, H]`` embeddings."""
    a = F.normalize(anchors, dim=-1)
    p = F.normalize(positives, dim=-1)
    logits = a @ p.T / temperature
    return F.cross_entropy(logits, torch.arange(len(a), device=a.device))
