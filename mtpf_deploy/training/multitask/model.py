"""The multi-task model: the shared encoder (trained whole, through one shared LoRA, or through one
LoRA per task) and the report's three heads on mean-pooled, L2-normalised sentence embeddings:

- ``sst``: linear → 5 classes, cross-entropy;
- ``para``: linear on [u, v, |u − v|, u ⊙ v] → one logit, binary cross-entropy;
- ``sts``: scaled cosine similarity 5 · cos(u, v), mean squared error against the gold score (0–5)."""
from __future__ import annotations

import torch
from peft import get_peft_model

from ..encoder import lora_config, mean_pool
from .config import MultitaskConfig

STS_SCALE = 5.0
OUTPUT_KIND = {"sst": "multiclass", "para": "binary", "sts": "regression"}  # for SMART's l_s


class MultitaskModel(torch.nn.Module):
    def __init__(self, encoder: torch.nn.Module, cfg: MultitaskConfig, num_sst_labels: int = 5):
        super().__init__()
        self.mode, self.tasks = cfg.mode, list(cfg.tasks)
        hidden = encoder.config.hidden_size
        self.bert = encoder  # the plain BertModel (embedding lookups)
        if cfg.mode == "full":
            self.encoder = encoder
        else:
            lc = lora_config(cfg.lora_r, cfg.lora_alpha, cfg.lora_targets, None, cfg.lora_dropout)
            names = self.tasks if cfg.mode == "lora-per-task" else ["default"]
            self.encoder = get_peft_model(encoder, lc, adapter_name=names[0])
            for name in names[1:]:
                self.encoder.add_adapter(name, lc)
            for n, p in self.encoder.named_parameters():
                p.requires_grad_("lora_" in n)
        self.dropout = torch.nn.Dropout(cfg.dropout)
        self.heads = torch.nn.ModuleDict()
        if "sst" in self.tasks:
            self.heads["sst"] = torch.nn.Linear(hidden, num_sst_labels)
        if "para" in self.tasks:
            self.heads["para"] = torch.nn.Linear(4 * hidden, 1)

    def activate(self, task: str) -> None:
        """Route the encoder through ``task``'s LoRA (lora-per-task); every LoRA stays trainable."""
        if self.mode == "lora-per-task":
            self.encoder.set_adapter(task)
            for n, p in self.encoder.named_parameters():
                if "lora_" in n:
                    p.requires_grad_(True)

    def embeddings(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Input (word) embeddings, where SMART perturbs."""
        return self.bert.embeddings.word_embeddings(input_ids)

    def pooled(self, embeds: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        return torch.nn.functional.normalize(mean_pool(hidden, mask), dim=-1)

    def forward(self, task: str, embeds: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Task outputs from input embeddings: sst [B, 5] logits; para [B] logit; sts [B] score. Pair
        tasks take both sentences stacked: rows [0, B) are the first, [B, 2B) the second."""
        u = self.pooled(embeds, mask)
        if task == "sst":
            return self.heads["sst"](self.dropout(u))
        u, v = u.chunk(2)
        if task == "para":
            return self.heads["para"](self.dropout(torch.cat([u, v, (u - v).abs(), u * v], -1))).squeeze(-1)
        return STS_SCALE * (u * v).sum(-1)


def task_loss(task: str, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if task == "sst":
        return torch.nn.functional.cross_entropy(outputs, target)
    if task == "para":
        return torch.nn.functional.binary_cross_entropy_with_logits(outputs, target)
    return torch.nn.functional.mse_loss(outputs, target)
