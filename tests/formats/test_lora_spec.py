"""One reader of PEFT's adapter_config.json: PEFT's own defaults, rsLoRA scaling, clear refusals."""
from __future__ import annotations

import math

import pytest

from mtpf_deploy.errors import MtpfError
from mtpf_deploy.formats.lora_spec import LoraSpec


def test_defaults_and_scaling_match_peft():
    peft = pytest.importorskip("peft")
    default = peft.LoraConfig()
    assert LoraSpec.from_peft_config({}, "x") == LoraSpec(default.r, float(default.lora_alpha), False)
    assert LoraSpec.from_peft_config({"r": 16, "lora_alpha": 32}, "x").scaling == 2.0
    assert LoraSpec.from_peft_config({"r": 16, "lora_alpha": 32, "use_rslora": True}, "x").scaling == pytest.approx(
        32 / math.sqrt(16))


@pytest.mark.parametrize("config,message", [
    ({"peft_type": "IA3"}, "is not LoRA"),
    ({"use_dora": True}, "DoRA"),
    ({"bias": "lora_only"}, "bias='lora_only'"),
    ({"rank_pattern": {"query": 4}}, "rank_pattern"),
    ({"r": 0}, "'r' must be a positive integer"),
    ({"r": "8"}, "'r' must be a positive integer"),
    ({"lora_alpha": None}, "'lora_alpha' must be a number"),
])
def test_what_cannot_ship_is_refused_by_name(config, message):
    with pytest.raises(MtpfError, match=message):
        LoraSpec.from_peft_config(config, "adapter A")
