"""Loading a BERT encoder, mean pooling, and LoRA configs for the paper's adapters."""
from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig
from transformers import BertModel

from ..backbones import resolve_backbone
from ..formats.lora_slots import NER_TARGETS, target_regex


def load_encoder(backbone: str | Path, device: str | torch.device = "cpu") -> BertModel:
    """A ``BertModel`` (no pooler) from ``default`` or a local folder."""
    path = resolve_backbone(backbone)
    model = BertModel.from_pretrained(path, add_pooling_layer=False)
    return model.to(device)


def lora_config(
    r: int = 32,
    alpha: int = 64,
    families: tuple[str, ...] | list[str] = NER_TARGETS,
    layers: list[int] | None = None,
    dropout: float = 0.1,
) -> LoraConfig:
    """LoRA on the given families of the given layers (default: the paper's NER adaptation LoRA)."""
    return LoraConfig(r=r, lora_alpha=alpha, target_modules=target_regex(families, layers),
                      lora_dropout=dropout, bias="none")


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of token embeddings over the attention mask."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
