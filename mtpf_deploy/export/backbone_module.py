"""A torch wrapper of ``BertModel`` whose slot linears take LoRA A/B as forward inputs (for export)."""
from __future__ import annotations

import torch
from transformers import BertModel

from ..formats.lora_slots import Slot


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
