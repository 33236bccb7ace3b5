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


CLASSES = ["negative", "neutral", "positive"]


@pytest.fixture(scope="module")
def pooled_bert(tiny_bert, tmp_path_factory):
    """The tiny BERT with a trained (here: random, saved) pooler, as real BERT checkpoints have, and its bundle."""
    import shutil

    from transformers import BertModel

    from mtpf_deploy.export.write_bundle import export_bundle

    folder = tmp_path_factory.mktemp("pooled") / "bert"
    torch.manual_seed(3)
    BertModel.from_pretrained(str(tiny_bert), add_pooling_layer=True).save_pretrained(folder)
    shutil.copy(tiny_bert / "tokenizer.json", folder / "tokenizer.json")
    export_bundle(str(folder), {}, folder.parent / "bundle", precision="fp32", log=lambda m: None)
    return folder, folder.parent / "bundle"


def seq_cls_folder(base, out, seed=0):
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=3, id2label=dict(enumerate(CLASSES)))
    peft_model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, target_modules=["query", "value"], r=4))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_" in n or "classifier" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    peft_model.save_pretrained(out)
    model.config.save_pretrained(out)
    return peft_model.eval()


def test_peft_sequence_classification_matches_peft_forward(pooled_bert, tmp_path):
    base, bundle = pooled_bert
    peft_model = seq_cls_folder(base, tmp_path / "seq")
    res = pack(bundle, tmp_path / "seq", tmp_path / "seq.mtpfa")
    assert res.exit_code == 0 and "base-model-checked" in res.output, res.output
    system = SystemModel.load(bundle)
    adapter = system.load_adapter(tmp_path / "seq.mtpfa")
    assert adapter.task == "tc" and adapter.labels == CLASSES and adapter.pooling == "cls"
    texts = [t for t in TEXTS if t]
    got = system.classify(texts, adapter)
    for text, result, row in zip(texts, got, _rows(system, texts)):
        with torch.no_grad():
            logits = peft_model(input_ids=torch.tensor([row]), attention_mask=torch.ones(1, len(row), dtype=torch.long)).logits
        expected = torch.softmax(logits, -1)[0].numpy()
        assert np.abs(np.array([result.probabilities[c] for c in CLASSES]) - expected).max() <= 1e-5, text
        assert result.label == CLASSES[int(expected.argmax())]


def test_what_cannot_be_reproduced_is_refused_by_name(tiny_bert, tiny_bundle, tmp_path):
    seq_cls_folder(tiny_bert, tmp_path / "seq")  # the tiny BERT has no saved pooler: transformers made a random one
    res = pack(tiny_bundle, tmp_path / "seq", tmp_path / "s.mtpfa")
    assert res.exit_code == 1 and "has no trained pooler" in res.output, res.output
    config = json.loads((tmp_path / "seq/adapter_config.json").read_text())
    (tmp_path / "seq/adapter_config.json").write_text(json.dumps(dict(config, base_model_name_or_path="gone/elsewhere")))
    res = pack(tiny_bundle, tmp_path / "seq", tmp_path / "s.mtpfa", "--assume-backbone")
    assert res.exit_code == 1 and "not --assume-backbone" in res.output, res.output
    assert not (tmp_path / "s.mtpfa").exists()
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


def test_a_pooler_head_is_validated_like_every_head(pooled_bert, tmp_path):
    from mtpf_deploy.errors import AdapterError
    from mtpf_deploy.formats.adapter_file import read_adapter_file
    from tests.runtime.crafting import craft

    base, bundle = pooled_bert
    seq_cls_folder(base, tmp_path / "seq")
    assert pack(bundle, tmp_path / "seq", tmp_path / "seq.mtpfa").exit_code == 0
    good = tmp_path / "seq.mtpfa"
    for manifest, head, message in (
            (lambda m: m.update(pooling="mean"), None, "a 'pooler-linear' head is a tc head on the \\[CLS\\] vector"),
            (lambda m: m.update(head="linear"), None, "pooling 'cls' needs that head"),
            (None, lambda h: h.pop("pooler_bias"), "must hold exactly 'bias', 'pooler_bias', 'pooler_weight', 'weight'"),
            (None, lambda h: h.update(pooler_weight=h["pooler_weight"][:, :5].copy()), "pooler_weight \\[32, 5\\]")):
        bad = craft(good, tmp_path / "bad.mtpfa", manifest=manifest, head=head)
        with pytest.raises(AdapterError, match=message):
            read_adapter_file(bad)
