"""Initialising a LoRA from another PEFT adapter (paper: the task-primary NER LoRA seeds the last
two layers of the downstream NER LoRA)."""
from __future__ import annotations

from pathlib import Path

import torch
from peft import PeftModel

from ...errors import MtpfError
from ...formats.adapter_dir import read_peft_lora
from ...formats.lora_slots import peft_module_key
from ...formats.lora_spec import LoraSpec


def init_lora_from(model: PeftModel, adapter_dir: str | Path, adapter_name: str = "default") -> list[str]:
    """Copy LoRA A/B of every module the source adapter covers into ``model``'s LoRA.

    B is rescaled by ``scale_src / scale_dst`` so the initial weight delta equals the source's.
    Returns the module names initialised; a rank mismatch or no overlap at all is an error.
    """
    config, weights = read_peft_lora(adapter_dir)
    source = LoraSpec.from_peft_config(config, f"--init-adapter {adapter_dir}")
    src_scale = source.scaling
    params = dict(model.named_parameters())
    targets: dict[tuple[str, str], str] = {}
    for name in params:
        if f".{adapter_name}." in name:
            k = peft_module_key(name)
            if k:
                targets[k] = name
    dst = model.peft_config[adapter_name]
    dst_scale = LoraSpec(dst.r, float(dst.lora_alpha), bool(getattr(dst, "use_rslora", False))).scaling
    done = set()
    with torch.no_grad():
        for key, value in weights.items():
            k = peft_module_key(key)
            if k is None or k not in targets:
                continue
            target = params[targets[k]]
            if tuple(target.shape) != tuple(value.shape):
                raise MtpfError(
                    f"--init-adapter {adapter_dir}: {key} has shape {tuple(value.shape)} but the new LoRA "
                    f"expects {tuple(target.shape)} (use the same rank: --lora-r {source.rank})"
                )
            t = torch.from_numpy(value.copy()).to(target.dtype)
            if k[1] == "lora_B":
                t = t * (src_scale / dst_scale)
            target.copy_(t)
            done.add(k[0])
    if not done:
        raise MtpfError(f"--init-adapter {adapter_dir}: none of its LoRA modules match the new LoRA's targets")
    return sorted(done)
