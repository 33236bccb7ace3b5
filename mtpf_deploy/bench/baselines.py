"""What a user would ship instead, built from the bundle's backbone source (needs torch): an fp32
bundle of the same backbone, a merged per-task int8 model (the adapter's LoRA added into the weights,
exported and quantized like ours, no slots), and PyTorch eager + PEFT with the adapter's LoRA."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..formats.lora_slots import Slot


def used_slots(lora: dict[str, np.ndarray], slots: list[Slot]) -> list[Slot]:
    return [s for s in slots if s.a_name in lora]


def merged_backbone(source: Path, lora: dict[str, np.ndarray], slots: list[Slot], out: Path) -> Path:
    """A Hugging Face folder with ``W += B A`` for every slot the adapter uses (scaling is folded in B)."""
    import torch
    from transformers import BertModel

    model = BertModel.from_pretrained(source, add_pooling_layer=False).eval()
    with torch.no_grad():
        for s in used_slots(lora, slots):
            linear = model.get_submodule(s.module)
            linear.weight += torch.from_numpy(lora[s.b_name] @ lora[s.a_name])
    model.save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (source / name).exists():
            shutil.copy(source / name, out / name)
    return out


def export_merged_int8(folder: Path, out: Path, opset: int = 18) -> dict[str, int]:
    """The merged model as ONNX like our backbone (same fusions, same int8 quantization), no slots."""
    from ..export.backends.onnx.fusions import fuse_for_ort
    from ..export.backends.onnx.graph import export_onnx, quantize_int8

    raw, fused = out.with_suffix(".export.onnx"), out.with_suffix(".fused.onnx")
    export_onnx(folder, raw, opset, slotted=False)
    counts = fuse_for_ort(raw, fused)
    quantize_int8(fused, out)
    raw.unlink()
    fused.unlink()
    return counts


def eager_peft(source: Path, lora: dict[str, np.ndarray], slots: list[Slot]):
    """``BertModel`` (its default attention) + a PEFT LoRA holding the adapter's factors."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import BertModel

    used = used_slots(lora, slots)
    ranks = {s.module: int(lora[s.a_name].shape[0]) for s in used}
    rank = max(ranks.values())
    config = LoraConfig(r=rank, lora_alpha=rank, lora_dropout=0.0, target_modules=list(ranks),
                        rank_pattern={m: r for m, r in ranks.items() if r != rank},
                        alpha_pattern={m: r for m, r in ranks.items() if r != rank})  # scaling 1: B holds alpha/r
    model = get_peft_model(BertModel.from_pretrained(source, add_pooling_layer=False), config).eval()
    modules = dict(model.named_modules())
    with torch.no_grad():
        for s in used:
            layer = modules[f"base_model.model.{s.module}"]
            layer.lora_A["default"].weight.copy_(torch.from_numpy(lora[s.a_name]))
            layer.lora_B["default"].weight.copy_(torch.from_numpy(lora[s.b_name]))
    return model
