"""The one table of LoRA slot / module names: PEFT weight names map to slots, target regexes match
exactly the modules PEFT wraps."""
from __future__ import annotations

import re

import pytest

from mtpf_deploy.formats.lora_slots import FAMILIES, FAMILY_MODULES, bert_slots, peft_key_to_slot_input, peft_module_key, target_regex


def test_peft_weight_names_map_to_slots():
    key = "base_model.model.encoder.layer.3.attention.self.query.lora_A.weight"
    assert peft_key_to_slot_input(key) == "layer.3.query.lora_A"
    assert peft_key_to_slot_input("base_model.model.encoder.layer.0.output.dense.lora_B.ner.weight") == "layer.0.output.lora_B"
    assert peft_key_to_slot_input("base_model.model.encoder.layer.0.attention.output.dense.lora_B.weight") == \
        "layer.0.attn_out.lora_B"
    assert peft_key_to_slot_input("encoder.layer.1.attention.self.query.weight") is None  # not a LoRA weight
    assert peft_key_to_slot_input("encoder.layer.1.pooler.dense.lora_A.weight") is None  # no such slot
    assert peft_module_key("x.encoder.layer.2.intermediate.dense.lora_B.tc.weight") == \
        ("encoder.layer.2.intermediate.dense", "lora_B")


def test_every_slot_name_round_trips():
    for slot in bert_slots(3, 8, 16):
        for part, name in (("lora_A", slot.a_name), ("lora_B", slot.b_name)):
            assert peft_key_to_slot_input(f"base_model.model.{slot.module}.{part}.weight") == name


def test_target_regex_selects_families_and_layers():
    modules = [f"encoder.layer.{i}.{m}" for i in range(4) for m in FAMILY_MODULES.values()]
    pattern = re.compile(target_regex(["query", "output"], [2, 3]))
    picked = [m for m in modules if pattern.fullmatch(m)]
    assert picked == ["encoder.layer.2.attention.self.query", "encoder.layer.2.output.dense",
                      "encoder.layer.3.attention.self.query", "encoder.layer.3.output.dense"]
    assert len([m for m in modules if re.fullmatch(target_regex(FAMILIES, None), m)]) == len(modules)
    with pytest.raises(ValueError, match="unknown LoRA target"):
        target_regex(["pooler"], None)
