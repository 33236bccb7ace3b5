"""A torch wrapper of ``BertModel`` whose slot linears take LoRA A/B as forward inputs; shared by every
export backend (ONNX, ExecuTorch) and by the benchmarks' baselines."""
from __future__ import annotations

from pathlib import Path

import torch
from transformers import BertModel

from ..formats.lora_slots import Slot, bert_slots


class SlotLinear(torch.nn.Module):
    """``y = W x + b + (x A^T) B^T`` with A, B supplied per call by the owning ``SlottedBert``: A [r, in],
    B [out, r] for the whole batch, or (``rows`` given) a stack A [n, r, in], B [n, out, r] of n LoRAs of
    which row i of the batch uses number ``rows[i]``."""

    def __init__(self, base: torch.nn.Linear):
        super().__init__()
        self.base = base
        self.lora: tuple[torch.Tensor, torch.Tensor] | None = None
        self.rows: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.lora is not None:
            a, b = self.lora
            if self.rows is not None:  # [batch, r, in], [batch, out, r]: each row's own LoRA
                a, b = a[self.rows], b[self.rows]
            y = y + torch.matmul(torch.matmul(x, a.transpose(-1, -2)), b.transpose(-1, -2))
        return y


class SlottedBert(torch.nn.Module):
    """``forward(input_ids, attention_mask, A_0, B_0, A_1, B_1, …[, rows]) -> last_hidden_state``; with
    ``row_adapters`` the last input ``rows`` [batch] picks each row's LoRA from stacked factors."""

    def __init__(self, bert: BertModel, slots: list[Slot], row_adapters: bool = False):
        super().__init__()
        self.bert = bert
        self.slots = slots
        self.row_adapters = row_adapters
        self.slot_modules = []
        for slot in slots:
            parent_name, _, child = slot.module.rpartition(".")
            parent = bert.get_submodule(parent_name)
            wrapped = SlotLinear(getattr(parent, child))
            setattr(parent, child, wrapped)
            self.slot_modules.append(wrapped)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *lora: torch.Tensor) -> torch.Tensor:
        rows = lora[-1] if self.row_adapters else None
        for k, module in enumerate(self.slot_modules):
            module.lora = (lora[2 * k], lora[2 * k + 1])
            module.rows = rows
        try:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        finally:
            for module in self.slot_modules:
                module.lora = module.rows = None


def load_slotted(backbone_dir: str | Path, slotted: bool = True,
                 row_adapters: bool = False) -> tuple[SlottedBert, list[Slot]]:
    """The backbone (eager attention, eval mode) with every linear an adapter may target slotted
    (``slotted=False``: none, a plain encoder; ``row_adapters``: stacked LoRAs picked per row)."""
    bert = BertModel.from_pretrained(backbone_dir, add_pooling_layer=False, attn_implementation="eager").eval()
    c = bert.config
    slots = bert_slots(c.num_hidden_layers, c.hidden_size, c.intermediate_size) if slotted else []
    return SlottedBert(bert, slots, row_adapters).eval(), slots
