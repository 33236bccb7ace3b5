"""AdaBelief against a numpy reference update."""
from __future__ import annotations

import numpy as np
import torch

from mtpf_deploy.training.optimizers import AdaBelief


def test_adabelief_matches_reference_update():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(5))
    opt = AdaBelief([w], lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    ref = w.detach().numpy().astype(np.float64).copy()
    m = np.zeros(5)
    s = np.zeros(5)
    for t in range(1, 6):
        g = np.cos(np.arange(5) * t)  # a fixed gradient sequence
        w.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        ref *= 1 - 0.1 * 0.01
        m = 0.9 * m + 0.1 * g
        s = 0.999 * s + 0.001 * (g - m) ** 2 + 1e-8
        ref -= 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(s / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(w.detach().numpy(), ref, rtol=1e-5, atol=1e-6)
