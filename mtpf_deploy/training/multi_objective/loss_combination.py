"""Combining task losses (second source, Sec. 4.3): plain sum, the Geometric Loss Strategy (GLS)
and the Focused Loss Strategy (FLS) of Chennupati et al. (2019)."""
from __future__ import annotations

import torch

from . import COMBINATIONS


def combine_losses(losses: dict[str, torch.Tensor], how: str = "sum", focus: tuple[str, ...] = ()) -> torch.Tensor:
    """``sum``: Σ L_i.  ``gls``: (Π L_i)^(1/n).  ``fls``: (Π L_i)^(1/n) · (Π_{j in focus} L_j)^(1/m).

    Products are taken in log space (losses must be positive)."""
    if how not in COMBINATIONS:
        raise ValueError(f"loss combination must be one of {COMBINATIONS}, not {how!r}")
    values = list(losses.values())
    if how == "sum" or len(values) == 1 and how == "gls":
        return torch.stack(values).sum()
    logs = torch.stack([torch.log(v.clamp_min(1e-12)) for v in values])
    total = logs.mean()
    if how == "fls":
        missing = [f for f in focus if f not in losses]
        if not focus or missing:
            raise ValueError(f"fls needs focus tasks among {sorted(losses)} (got {list(focus)})")
        total = total + torch.stack([torch.log(losses[f].clamp_min(1e-12)) for f in focus]).mean()
    return torch.exp(total)
