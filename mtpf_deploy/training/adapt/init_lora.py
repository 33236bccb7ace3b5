"""Initialising a LoRA from another PEFT adapter (paper: the task-primary NER LoRA seeds the last
two layers of the downstream NER LoRA)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from peft import PeftModel

from ...errors import MtpfError
from ...formats.adapter_dir import read_peft_lora
from ...formats.lora_slots import peft_module_key
from ...formats.lora_spec import LoraSpec


@dataclass
class InitReport:
    """What ``init_lora_from`` copied, and what it could not use (said out loud, never dropped silently)."""

    initialised: list[str] = field(default_factory=list)  # modules of the new LoRA copied from the source
    fresh: list[str] = field(default_factory=list)  # modules of the new LoRA the source does not cover
    unused: list[str] = field(default_factory=list)  # source LoRA modules the new LoRA does not target
    ignored: list[str] = field(default_factory=list)  # source tensors that are no LoRA factor (e.g. a classifier)

    def lines(self, source: str) -> list[str]:
        out = [f"initialised {len(self.initialised)} LoRA modules from {source}"]
        if self.fresh:
            out.append(f"note: {len(self.fresh)} modules of the new LoRA start fresh (the source has none): "
                       f"{_short(self.fresh)}")
        if self.unused:
            out.append(f"note: {len(self.unused)} LoRA modules of {source} are not targets of the new LoRA and are "
                       f"left out (widen --lora-targets to use them): {_short(self.unused)}")
        if self.ignored:
            out.append(f"note: {len(self.ignored)} tensors of {source} are not LoRA factors and are ignored (a task "
                       f"head trained elsewhere is not reused): {_short(self.ignored)}")
        return out


def _short(names: list[str], n: int = 4) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def init_lora_from(model: PeftModel, adapter_dir: str | Path, adapter_name: str = "default") -> InitReport:
    """Copy LoRA A/B of every module the source adapter covers into ``model``'s LoRA.

    B is rescaled by ``scale_src / scale_dst`` so the initial weight delta equals the source's.
    Returns what was initialised and what was left out; a rank mismatch or no overlap at all is an error.
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
    source_modules = {k[0] for k in map(peft_module_key, weights) if k is not None}
    return InitReport(initialised=sorted(done), fresh=sorted({k[0] for k in targets} - done),
                      unused=sorted(source_modules - done),
                      ignored=sorted(key for key in weights if peft_module_key(key) is None))
