"""Initialising a LoRA from another PEFT adapter (paper: the task-primary NER LoRA seeds the last
two layers of the downstream NER LoRA)."""
from __future__ import annotations

from pathlib import Path

import torch
from peft import PeftModel

from ...errors import MtpfError
from ...formats.adapter_dir import read_peft_lora
from ...formats.lora_slots import peft_module_key


def init_lora_from(model: PeftModel, adapter_dir: str | Path, adapter_name: str = "default") -> list[str]:
    """Copy LoRA A/B of every module the source adapter covers into ``model``'s LoRA.

    B is rescaled by ``scale_src / scale_dst`` so the initial weight delta equals the source's.
    Returns the module names initialised; a rank mismatch or no overlap at all is an error.
    """
    config, weights = read_peft_lora(adapter_dir)
    src_scale = float(config.get("lora_alpha", 8)) / float(config.get("r", 8))
    params = dict(model.named_parameters())
    dst: dict[tuple[str, str], str] = {}
    for name in params:
        if f".{adapter_name}." in name:
            k = peft_module_key(name)
            if k:
                dst[k] = name
    dst_scale = float(model.peft_config[adapter_name].lora_alpha) / float(model.peft_config[adapter_name].r)
    done = set()
    with torch.no_grad():
        for key, value in weights.items():
            k = peft_module_key(key)
            if k is None or k not in dst:
                continue
            target = params[dst[k]]
            if tuple(target.shape) != tuple(value.shape):
                raise MtpfError(
                    f"--init-adapter {adapter_dir}: {key} has shape {tuple(value.shape)} but the new LoRA "
                    f"expects {tuple(target.shape)} (use the same rank: --lora-r {config.get('r')})"
                )
            t = torch.from_numpy(value.copy()).to(target.dtype)
            if k[1] == "lora_B":
                t = t * (src_scale / dst_scale)
            target.copy_(t)
            done.add(k[0])
    if not done:
        raise MtpfError(f"--init-adapter {adapter_dir}: none of its LoRA modules match the new LoRA's targets")
    return sorted(done)
