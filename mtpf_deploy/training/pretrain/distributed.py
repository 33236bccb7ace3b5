"""torchrun / DDP plumbing for ``pretrain``: world info, batch sharding, gathering, gradient averaging."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


class Distributed:
    """World info from torchrun's environment; gloo on CPU, nccl on CUDA."""

    def __init__(self, device: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.owned = False
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
            self.owned = True

    def close(self) -> None:
        if self.owned and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
            self.owned = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, idx: list[int], equal: bool = False) -> list[int]:
        """This rank's slice of a global batch (every rank sees the same global batch order);
        ``equal`` drops the remainder so every rank gets the same count (needed to gather)."""
        if self.world == 1:
            return idx
        if equal:
            idx = idx[: len(idx) - len(idx) % self.world]
        return idx[self.rank :: self.world]

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """All ranks' rows, concatenated in rank order, with gradients flowing back to each rank's own
        rows (``torch.distributed.nn.all_gather``): in-batch negatives span the global batch."""
        if self.world == 1:
            return x
        from torch.distributed.nn.functional import all_gather

        return torch.cat(all_gather(x))

    def average_grads(self, params: list[torch.nn.Parameter]) -> None:
        if self.world == 1:
            return
        for p in params:
            if p.grad is None:  # not used by this step's tasks, on every rank alike: leave it untouched
                continue
            dist.all_reduce(p.grad)
            p.grad /= self.world
