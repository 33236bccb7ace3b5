"""fp32 ONNX export matches PyTorch + PEFT on hidden states, with each adapter and with none."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from peft import LoraConfig, get_peft_model

from mtpf_deploy.data.tokenization import truncated_rows
from mtpf_deploy.export.write_bundle import export_bundle
from mtpf_deploy.runtime import SystemModel
from mtpf_deploy.training.encoder import load_encoder

TEXTS = ["Alice Smith went to Paris", "the big match", "", "Oslo " * 40, "a team with a laptop and pizza"]


def _torch_hidden(encoder, rows, pad):
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    with torch.no_grad():
        return encoder(input_ids=ids, attention_mask=mask).last_hidden_state.numpy(), mask.numpy()


def _rows(system, texts):
    rows, _ = truncated_rows(system.tokenizer, texts, system.max_length)
    return rows


def max_diff_to_pytorch(system: SystemModel, tiny_bert, adapter: str | None, adapter_dir=None) -> float:
    """Max |hidden state| difference (real tokens) between ``system`` and PyTorch + PEFT on TEXTS."""
    from peft import PeftModel

    encoder = load_encoder(str(tiny_bert)).eval()
    if adapter is not None:
        encoder = PeftModel.from_pretrained(encoder, str(adapter_dir)).eval()
    rows = _rows(system, TEXTS)
    ref, mask = _torch_hidden(encoder, rows, system.pad_id)
    got, _ = system.run_ids(rows, system.load_adapter(adapter) if adapter else None)
    return float(np.abs(ref - got)[mask.astype(bool)].max())


@pytest.mark.parametrize("adapter", [None, "ner", "tc"])
def test_fp32_export_matches_pytorch_peft(tiny_bert, tiny_bundle, tiny_adapters, adapter):
    diff = max_diff_to_pytorch(SystemModel.load(tiny_bundle), tiny_bert, adapter, tiny_adapters.get(adapter))
    assert diff <= 1e-4, diff


def test_every_slot_family_is_exported_correctly(tiny_bert, tmp_path):
    """A PEFT adapter trained elsewhere on all six families, with rsLoRA scaling, through the runtime."""
    encoder = load_encoder(str(tiny_bert)).eval()
    config = LoraConfig(r=3, lora_alpha=5, use_rslora=True,
                        target_modules=["query", "key", "value", "intermediate.dense", "output.dense"])
    peft_model = get_peft_model(encoder, config)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    peft_model.save_pretrained(tmp_path / "peft")
    assert "task.json" not in {p.name for p in (tmp_path / "peft").iterdir()}
    bundle = tmp_path / "bundle"
    export_bundle(str(tiny_bert), {"raw": tmp_path / "peft"}, bundle, quantize="none", log=lambda m: None)
    manifest = json.loads(__import__("zipfile").ZipFile(bundle / "adapters/raw.mtpfa").read("manifest.json"))
    assert manifest["task"] == "lora" and len(manifest["lora"]["slots"]) == 2 * 6 * 2  # A+B x 6 families x 2 layers
    system = SystemModel.load(bundle)
    rows = _rows(system, TEXTS)
    ref, mask = _torch_hidden(peft_model.eval(), rows, system.pad_id)
    got, _ = system.run_ids(rows, system.load_adapter("raw"))
    assert np.abs(ref - got)[mask.astype(bool)].max() <= 1e-4
