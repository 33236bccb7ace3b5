"""A torch wrapper of ``BertModel`` whose slot linears take LoRA A/B as forward inputs; shared by every
export backend (ONNX, ExecuTorch) and by the benchmarks' baselines."""
from __future__ import annotations

from pathlib import Path

import torch
from transformers import BertModel

from ..formats.lora_slots import Slot, bert_slots


class SlotLinear(torch.nn.Module):
    """``y = W x + b + (x A^T) B^T`` with A, B supplied per call by the owning ``SlottedBert``."""

    def __init__(self, base: torch.nn.Linear):
        super().__init__()
        self.base = base
        self.lora: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.lora is not None:
            a, b = self.lora
            y = y + torch.matmul(torch.matmul(x, a.transpose(0, 1)), b.transpose(0, 1))
        return y


class SlottedBert(torch.nn.Module):
    """``forward(input_ids, attention_mask, A_0, B_0, A_1, B_1, …) -> last_hidden_state``."""

    def __init__(self, bert: BertModel, slots: list[Slot]):
        super().__init__()
        self.bert = bert
        self.slots = slots
        self.slot_modules = []
        for slot in slots:
            parent_name, _, child = slot.module.rpartition(".")
            parent = bert.get_submodule(parent_name)
            wrapped = SlotLinear(getattr(parent, child))
            setattr(parent, child, wrapped)
            self.slot_modules.append(wrapped)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *lora: torch.Tensor) -> torch.Tensor:
        for k, module in enumerate(self.slot_modules):
            module.lora = (lora[2 * k], lora[2 * k + 1])
        try:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        finally:
            for module in self.slot_modules:
                module.lora = None


def load_slotted(backbone_dir: str | Path, slotted: bool = True) -> tuple[SlottedBert, list[Slot]]:
    """The backbone (eager attention, eval mode) with every linear an adapter may target slotted
    (``slotted=False``: none, a plain encoder)."""
    bert = BertModel.from_pretrained(backbone_dir, add_pooling_layer=False, attn_implementation="eager").eval()
    c = bert.config
    slots = bert_slots(c.num_hidden_layers, c.hidden_size, c.intermediate_size) if slotted else []
    return SlottedBert(bert, slots).eval(), slots
