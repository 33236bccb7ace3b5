"""The model being pre-finetuned: the shared encoder, optional task-primary LoRAs, and the NER
distillation head.

Gradient routing (paper Sec. 6): a forward for task ``t`` runs with only LoRA ``t`` active, so the
``ner`` LoRA receives gradients only from the NER loss and the ``tc`` LoRA only from the TC loss,
while the backbone (trainable unless ``freeze_backbone``, the paper's PF-L) receives both."""
from __future__ import annotations

import torch
from peft import PeftModel, get_peft_model
from transformers import BertModel

from ..encoder import lora_config, mean_pool


class PretrainModel(torch.nn.Module):
    """``encoder`` (a ``BertModel``), LoRAs named after task families, and the NER pseudo-label head."""

    def __init__(self, encoder: BertModel, tasks: list[str], ner_labels: int = 0, lora: dict | None = None,
                 freeze_backbone: bool = False):
        super().__init__()
        self.tasks = list(tasks)
        self.has_lora = lora is not None
        self.freeze_backbone = freeze_backbone
        if lora is not None:
            cfg = lambda: lora_config(lora["r"], lora["alpha"], lora["targets"], lora["layers"], lora["dropout"])  # noqa: E731
            peft = get_peft_model(encoder, cfg(), adapter_name=self.tasks[0])
            for t in self.tasks[1:]:
                peft.add_adapter(t, cfg())
            self.encoder: torch.nn.Module = peft
        else:
            self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.ner_head = torch.nn.Linear(hidden, ner_labels) if "ner" in self.tasks and ner_labels else None
        self._active: str | None = None
        self.set_trainable()

    def set_trainable(self) -> None:
        """LoRAs and head trainable; the backbone too unless frozen (PF-L)."""
        for name, p in self.named_parameters():
            p.requires_grad_("lora_" in name or name.startswith("ner_head") or not self.freeze_backbone)

    def activate(self, task: str) -> None:
        """Make ``task``'s LoRA the only active one (a no-op without LoRAs)."""
        if self.has_lora and self._active != task:
            self.encoder.set_adapter(task)
            self._active = task
            self.set_trainable()  # PEFT's set_adapter freezes inactive adapters; routing comes from the forward

    def hidden(self, task: str, batch: dict) -> torch.Tensor:
        self.activate(task)
        return self.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state

    def embed(self, batch: dict) -> torch.Tensor:
        """TC representation: mean-pooled hidden states with the ``tc`` LoRA active."""
        return mean_pool(self.hidden("tc", batch), batch["attention_mask"])

    def ner_logits(self, batch: dict) -> torch.Tensor:
        return self.ner_head(self.hidden("ner", batch))

    def forward(self, task: str, batch: dict) -> torch.Tensor:  # DDP calls forward
        return self.embed(batch) if task == "tc" else self.ner_logits(batch)

    def backbone_state_dict(self) -> dict[str, torch.Tensor]:
        """Plain ``BertModel`` weights (LoRA layers unwrapped, LoRA weights dropped)."""
        base = self.encoder.get_base_model() if isinstance(self.encoder, PeftModel) else self.encoder
        out = {}
        for k, v in base.state_dict().items():
            if "lora_" in k:
                continue
            out[k.replace(".base_layer.", ".")] = v.detach().cpu().clone()
        return out

    def parameter_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        """``backbone`` / ``lora`` / ``head`` trainable parameters."""
        groups: dict[str, list] = {"backbone": [], "lora": [], "head": []}
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            key = "lora" if "lora_" in name else ("head" if name.startswith("ner_head") else "backbone")
            groups[key].append(p)
        return groups
