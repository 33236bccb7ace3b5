"""InfoNCE against a hand-computed value."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mtpf_deploy.training.pretrain.objectives import info_nce


def test_info_nce_hand_computed():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    p = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    # normalised: a = [1,0],[0,1]; p = [1,0],[s,s] with s = 1/sqrt(2)
    s = 1 / math.sqrt(2)
    t = 0.05
    sims = [[1.0, s], [0.0, s]]
    expected = -np.mean([sims[i][i] / t - math.log(sum(math.exp(v / t) for v in sims[i])) for i in range(2)])
    assert info_nce(a, p, t).item() == pytest.approx(expected, rel=1e-5)
    # a perfect, well separated batch has a near-zero loss; swapping positives makes it large
    eye = torch.eye(4)
    assert info_nce(eye, eye).item() < 1e-6
    assert info_nce(eye, eye[[1, 0, 3, 2]]).item() > 10
