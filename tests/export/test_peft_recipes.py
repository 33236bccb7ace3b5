"""PEFT folders as PEFT users make them (issue 23): the standard TOKEN_CLS recipe packs into an ner
adapter whose head is PEFT's saved classifier, and its logits match PEFT's own forward; what cannot be
reproduced is refused by name."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from peft import LoraConfig, TaskType, get_peft_model
from transformers import AutoModelForTokenClassification

from mtpf_deploy.cli import main
from mtpf_deploy.runtime import SystemModel
from tests.export.test_parity import TEXTS, _rows

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def token_cls_folder(tiny_bert, out, seed=0, save_config=False, **lora):
    model = AutoModelForTokenClassification.from_pretrained(str(tiny_bert), num_labels=len(LABELS),
                                                            id2label=dict(enumerate(LABELS)))
    config = LoraConfig(task_type=TaskType.TOKEN_CLS, **{"target_modules": ["query", "value"], "r": 8, **lora})
    peft_model = get_peft_model(model, config)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_" in n or "classifier" in n:  # as if trained
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    peft_model.save_pretrained(out)
    if save_config:
        model.config.save_pretrained(out)
    return peft_model.eval()


def pack(bundle, folder, out, *extra):
    return CliRunner().invoke(main, ["pack", "--bundle", str(bundle), "--adapter", str(folder), "--name", "tok",
                                     "--out", str(out), *extra])


@pytest.mark.parametrize("lora", [{}, {"r": 4, "use_rslora": True, "target_modules": ["query", "key", "value", "dense"]}],
                         ids=["r8-qv", "rslora-r4-all"])
def test_peft_token_classification_matches_peft_forward(tiny_bert, tiny_bundle, tmp_path, lora):
    peft_model = token_cls_folder(tiny_bert, tmp_path / "peft", **lora)
    res = pack(tiny_bundle, tmp_path / "peft", tmp_path / "tok.mtpfa", "--labels", ",".join(LABELS))
    assert res.exit_code == 0 and "base-model-checked" in res.output, res.output
    system = SystemModel.load(tiny_bundle)
    adapter = system.load_adapter(tmp_path / "tok.mtpfa")
    assert adapter.task == "ner" and adapter.labels == LABELS
    rows = _rows(system, TEXTS)
    hidden, mask = system.run_ids(rows, adapter)
    ours = hidden @ adapter.weight.T + adapter.bias
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), system.pad_id)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)], attention[i, : len(r)] = torch.tensor(r), 1
    with torch.no_grad():
        ref = peft_model(input_ids=ids, attention_mask=attention).logits.numpy()
    real = attention.numpy().astype(bool)
    assert np.abs(ref - ours)[real].max() <= 1e-5
    assert system.entities("alice smith went to paris", adapter) is not None


def test_labels_come_from_a_saved_config_or_are_asked_for(tiny_bert, tiny_bundle, tmp_path):
    token_cls_folder(tiny_bert, tmp_path / "bare")
    res = pack(tiny_bundle, tmp_path / "bare", tmp_path / "a.mtpfa")
    assert res.exit_code == 1 and "--labels O,B-PER" in res.output and "Traceback" not in res.output, res.output
    res = pack(tiny_bundle, tmp_path / "bare", tmp_path / "a.mtpfa", "--labels", "O,B-PER,I-PER")
    assert res.exit_code == 1 and "5 outputs but 3 labels" in res.output, res.output
    res = pack(tiny_bundle, tmp_path / "bare", tmp_path / "a.mtpfa", "--labels", "O,PER,LOC,X,Y")
    assert res.exit_code == 1 and "IOB2" in res.output, res.output
    assert not (tmp_path / "a.mtpfa").exists()
    token_cls_folder(tiny_bert, tmp_path / "with_config", save_config=True)
    res = pack(tiny_bundle, tmp_path / "with_config", tmp_path / "b.mtpfa")
    assert res.exit_code == 0, res.output
    assert SystemModel.load(tiny_bundle).load_adapter(tmp_path / "b.mtpfa").labels == LABELS


def test_what_cannot_be_reproduced_is_refused_by_name(tiny_bert, tiny_bundle, tmp_path):
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_bert), num_labels=3)
    get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, target_modules=["query"], r=4)).save_pretrained(
        tmp_path / "seq")
    res = pack(tiny_bundle, tmp_path / "seq", tmp_path / "s.mtpfa")
    assert res.exit_code == 1 and "SEQ_CLS" in res.output and "pooler" in res.output, res.output
    token_cls_folder(tiny_bert, tmp_path / "dora", use_dora=True)
    res = pack(tiny_bundle, tmp_path / "dora", tmp_path / "d.mtpfa", "--labels", ",".join(LABELS))
    assert res.exit_code == 1 and "DoRA" in res.output, res.output
    token_cls_folder(tiny_bert, tmp_path / "extra", modules_to_save=["classifier", "LayerNorm"])
    config = json.loads((tmp_path / "extra/adapter_config.json").read_text())
    assert "LayerNorm" in config["modules_to_save"]
    res = pack(tiny_bundle, tmp_path / "extra", tmp_path / "e.mtpfa", "--labels", ",".join(LABELS))
    assert res.exit_code == 1 and "LayerNorm" in res.output and "Traceback" not in res.output, res.output


def test_init_adapter_says_what_it_left_out(tiny_bert, tmp_path):
    """From a q/v TOKEN_CLS LoRA into adapt ner's default LoRA (no value family): the value modules left out, the
    fresh modules and the ignored classifier are named (they were dropped without a word)."""
    from mtpf_deploy.training.adapt.init_lora import init_lora_from
    from mtpf_deploy.training.encoder import load_encoder, lora_config

    token_cls_folder(tiny_bert, tmp_path / "peft")
    model = get_peft_model(load_encoder(str(tiny_bert)), lora_config(8, 8, dropout=0.0))
    report = init_lora_from(model, tmp_path / "peft")
    assert report.initialised and all(m.endswith("query") for m in report.initialised)
    assert report.unused == ["encoder.layer.0.attention.self.value", "encoder.layer.1.attention.self.value"]
    assert report.fresh and all(not m.endswith("query") for m in report.fresh)
    assert sorted(report.ignored) == ["base_model.model.classifier.bias", "base_model.model.classifier.weight"]
    text = "\n".join(report.lines("--init-adapter peft"))
    assert "start fresh" in text and "left out" in text and "not LoRA factors" in text and "classifier" in text
