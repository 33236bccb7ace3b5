"""Token-level cross-entropy on first sub-words (NER distillation from pseudo labels)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ....data.tokenization import IGNORE_INDEX


def token_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over positions whose label is not ``IGNORE_INDEX``."""
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)
