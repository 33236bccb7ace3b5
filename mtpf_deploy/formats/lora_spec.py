"""A LoRA's shape and scaling, read from PEFT's ``adapter_config.json`` in one place. Torch-free.

``init`` (``adapt --init-adapter``), ``pack``, ``export`` and the ExecuTorch rank check all take a
``LoraSpec`` instead of reading the dict themselves, so a missing key means the same everywhere:
PEFT's own ``LoraConfig`` defaults (``r=8``, ``lora_alpha=8``)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import MtpfError

PEFT_DEFAULT_RANK = 8  # peft.LoraConfig.r
PEFT_DEFAULT_ALPHA = 8  # peft.LoraConfig.lora_alpha


@dataclass(frozen=True)
class LoraSpec:
    """``rank`` r, ``alpha`` and whether rsLoRA scaling (alpha / sqrt(r)) is used."""

    rank: int
    alpha: float
    rslora: bool = False

    @property
    def scaling(self) -> float:
        """What PEFT multiplies B A x by: alpha / r (alpha / sqrt(r) with rsLoRA)."""
        return self.alpha / math.sqrt(self.rank) if self.rslora else self.alpha / self.rank

    @classmethod
    def from_peft_config(cls, config: dict, where: str) -> LoraSpec:
        """Read PEFT's ``adapter_config.json``; refuse what cannot be shipped as plain slot factors."""
        if not isinstance(config, dict):
            raise MtpfError(f"{where}: adapter_config.json must be a JSON object")
        if config.get("peft_type", "LORA") != "LORA":
            raise MtpfError(f"{where}: PEFT type {config.get('peft_type')!r} is not LoRA")
        if config.get("rank_pattern") or config.get("alpha_pattern"):
            raise MtpfError(f"{where}: per-module rank_pattern/alpha_pattern is not supported")
        if config.get("use_dora"):
            raise MtpfError(f"{where}: DoRA (use_dora=true) rescales each weight column; it cannot be shipped as "
                            "LoRA slot factors (train with use_dora=false)")
        if config.get("bias", "none") not in ("none", None):
            raise MtpfError(f"{where}: bias={config['bias']!r} trains the backbone's biases, which a LoRA slot cannot "
                            "carry (train with bias='none')")
        rank = config.get("r", PEFT_DEFAULT_RANK)
        alpha = config.get("lora_alpha", PEFT_DEFAULT_ALPHA)
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise MtpfError(f"{where}: adapter_config.json 'r' must be a positive integer, not {rank!r}")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
            raise MtpfError(f"{where}: adapter_config.json 'lora_alpha' must be a number, not {alpha!r}")
        return cls(rank, float(alpha), bool(config.get("use_rslora", False)))
