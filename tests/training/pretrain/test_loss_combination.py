"""Sum / GLS / FLS loss combinations and their gradients."""
from __future__ import annotations

import pytest
import torch

from mtpf_deploy.training.multi_objective.loss_combination import combine_losses


def test_gls_and_fls_formulas():
    losses = {"ner": torch.tensor(2.0), "tc": torch.tensor(8.0), "x": torch.tensor(0.5)}
    assert combine_losses(losses, "sum").item() == pytest.approx(10.5)
    assert combine_losses(losses, "gls").item() == pytest.approx((2 * 8 * 0.5) ** (1 / 3), rel=1e-6)
    assert combine_losses(losses, "fls", ("tc",)).item() == pytest.approx((2 * 8 * 0.5) ** (1 / 3) * 8, rel=1e-6)
    assert combine_losses(losses, "fls", ("tc", "ner")).item() == pytest.approx(
        (2 * 8 * 0.5) ** (1 / 3) * (8 * 2) ** 0.5, rel=1e-6)
    # the gradient of GLS w.r.t. each loss is total / (n * L_i)
    leaves = {k: v.clone().requires_grad_(True) for k, v in losses.items()}
    total = combine_losses(leaves, "gls")
    total.backward()
    for _k, v in leaves.items():
        assert v.grad.item() == pytest.approx(total.item() / (3 * v.item()), rel=1e-5)
    with pytest.raises(ValueError, match="fls needs focus"):
        combine_losses(losses, "fls")
