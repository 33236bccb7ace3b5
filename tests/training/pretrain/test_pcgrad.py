"""PCGrad projection against hand-computed vectors."""
from __future__ import annotations

import torch

from mtpf_deploy.training.multi_objective.pcgrad import pcgrad


def test_pcgrad_projects_conflicting_gradients():
    g1 = torch.tensor([1.0, 0.0])
    g2 = torch.tensor([-1.0, 1.0])  # conflicts with g1 (dot -1)
    # g1' = g1 - (g1.g2/|g2|^2) g2 = [1,0] + 0.5*[-1,1] = [0.5, 0.5]
    # g2' = g2 - (g2.g1/|g1|^2) g1 = [-1,1] + [1,0] = [0, 1]
    out = pcgrad([g1, g2])
    assert torch.allclose(out, torch.tensor([0.5, 1.5]))
    assert torch.dot(torch.tensor([0.5, 0.5]), g2) >= -1e-6  # projected g1 no longer conflicts with g2
    # non-conflicting gradients are summed unchanged
    assert torch.allclose(pcgrad([torch.tensor([1.0, 1.0]), torch.tensor([1.0, 0.0])]), torch.tensor([2.0, 1.0]))
    assert torch.equal(g1, torch.tensor([1.0, 0.0]))  # inputs untouched
