"""GradCache gives the full-batch gradient."""
from __future__ import annotations

import pytest
import torch

from mtpf_deploy.training.pretrain.gradcache import CachedContrastive
from mtpf_deploy.training.pretrain.objectives import info_nce


def test_gradcache_equals_full_batch_gradient():
    torch.manual_seed(0)
    enc = torch.nn.Sequential(torch.nn.Embedding(50, 8), torch.nn.Dropout(0.3))

    def embed(b):
        return enc(b["input_ids"]).mean(1)

    a = {"input_ids": torch.randint(0, 50, (12, 5))}
    p = {"input_ids": torch.randint(0, 50, (12, 5))}
    enc.train()
    torch.manual_seed(1)
    cache = CachedContrastive(embed, [a, p], chunk_size=4)
    loss_cached = cache.loss(info_nce)
    cache.backward(loss_cached, 0.5)
    g_cached = enc[0].weight.grad.clone()
    enc.zero_grad()
    # the same dropout masks: replay the RNG states the chunks saw, on the whole batch chunk by chunk
    torch.manual_seed(1)
    reps = [torch.cat([embed({"input_ids": x["input_ids"][i : i + 4]}) for i in range(0, 12, 4)]) for x in (a, p)]
    loss_full = info_nce(*reps)
    (0.5 * loss_full).backward()
    assert loss_cached.item() == pytest.approx(loss_full.item(), rel=1e-6)
    assert torch.allclose(enc[0].weight.grad, g_cached, atol=1e-6)
