"""Loading a BERT encoder, mean pooling, and LoRA configs for the paper's adapters."""
from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig
from transformers import BertModel
from transformers.utils import logging as hf_logging

from ..backbones import resolve_backbone

hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()

# Module families a LoRA may target in a BERT layer (names relative to ``encoder.layer.N``).
TARGET_FAMILIES = {
    "query": r"attention\.self\.query",
    "key": r"attention\.self\.key",
    "value": r"attention\.self\.value",
    "attn_out": r"attention\.output\.dense",
    "intermediate": r"intermediate\.dense",
    "output": r"output\.dense",
}
NER_TARGETS = ("query", "key", "intermediate", "output")  # paper App. A: query, key and the MLP


def load_encoder(backbone: str | Path, device: str | torch.device = "cpu") -> BertModel:
    """A ``BertModel`` (no pooler) from ``default`` or a local folder."""
    path = resolve_backbone(backbone)
    model = BertModel.from_pretrained(path, add_pooling_layer=False)
    return model.to(device)


def target_regex(families: tuple[str, ...] | list[str], layers: list[int] | None) -> str:
    """PEFT ``target_modules`` regex for the given module families and layer indices (None = all)."""
    unknown = set(families) - set(TARGET_FAMILIES)
    if unknown:
        raise ValueError(f"unknown LoRA target(s) {sorted(unknown)}; known: {sorted(TARGET_FAMILIES)}")
    layer = r"\d+" if layers is None else "(" + "|".join(str(i) for i in layers) + ")"
    mods = "|".join(TARGET_FAMILIES[f] for f in families)
    return rf".*encoder\.layer\.{layer}\.({mods})$"


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
