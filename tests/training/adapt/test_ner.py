"""``adapt ner`` on a tiny BERT: learns a trivially learnable tagging task and round-trips."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file

from mtpf_deploy.data.tokenization import load_tokenizer
from mtpf_deploy.errors import MtpfError
from mtpf_deploy.training.adapt.ner import NerAdaptConfig, adapt_ner, evaluate, load_ner_tagger

FAST = dict(lora_r=4, lora_alpha=8, warmup_epochs=3, epochs=30, batch_size=32, lora_lr=5e-3, head_lr=1e-2)


@pytest.fixture(scope="module")
def trained(tiny_bert, ner_splits, tmp_path_factory):
    out = tmp_path_factory.mktemp("ner") / "adapter"
    metrics = adapt_ner(NerAdaptConfig(backbone=str(tiny_bert), **FAST), ner_splits, out, log=lambda m: None)
    return out, metrics


def test_learns_the_task(trained):
    _, metrics = trained
    # chance level for strict entity F1 is ~0; a working tagger gets most entities right
    assert metrics["test"]["f1"] > 0.8, metrics["test"]
    assert metrics["joint_loss"][-1] < metrics["warmup_loss"][0]


def test_output_folder_is_peft_plus_head(trained):
    out, metrics = trained
    names = {p.name for p in out.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "head.safetensors", "task.json",
            "metrics.json", "config.json"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["lora_alpha"] == 8
    keys = load_file(str(out / "adapter_model.safetensors"))
    # LoRA on query, key, intermediate and (MLP) output dense of every layer, not value/attention output
    assert any("attention.self.query.lora_A" in k for k in keys)
    assert any("layer.1.output.dense.lora_B" in k for k in keys)
    assert not any("attention.self.value" in k or "attention.output.dense" in k for k in keys)
    task = json.loads((out / "task.json").read_text())
    assert task["task"] == "ner" and task["labels"][0] == "O" and len(task["backbone"]["weights_sha256"]) == 64
    assert json.loads((out / "metrics.json").read_text())["test"]["f1"] == metrics["test"]["f1"]


def test_reports_the_f1_of_the_runtimes_entities_beside_seqeval(trained, ner_splits, tmp_path):
    """``metrics[split]["shipped"]`` is what an app gets: the runtime's entities on an fp32 bundle of the
    adapter, scored by type and character span — recomputed here from such a bundle, it is the same."""
    from mtpf_deploy.evaluation.shipped import shipped_ner_scores
    from mtpf_deploy.export.write_bundle import export_bundle
    from mtpf_deploy.runtime import SystemModel

    out, metrics = trained
    shipped = metrics["test"]["shipped"]
    assert json.loads((out / "metrics.json").read_text())["test"]["shipped"] == shipped
    export_bundle(json.loads((out / "config.json").read_text())["backbone"], {"ner": out}, tmp_path / "b",
                  precision="fp32", log=lambda m: None)
    again = shipped_ner_scores(SystemModel.load(tmp_path / "b"), "ner", ner_splits["test"])
    assert shipped["f1"] == pytest.approx(again["f1"]) and shipped["gold"] == again["gold"] > 0
    # on this synthetic task the runtime's decoding keeps what seqeval counts (words = whitespace runs)
    assert abs(shipped["f1"] - metrics["test"]["f1"]) < 0.05


def test_save_load_round_trip_gives_same_metrics(trained, tiny_bert, ner_splits):
    out, metrics = trained
    model, labels = load_ner_tagger(str(tiny_bert), out)
    again = evaluate(model, load_tokenizer(tiny_bert), ner_splits["test"], labels, 128)
    assert again["f1"] == pytest.approx(metrics["test"]["f1"])


def test_init_adapter_copies_and_rescales_lora(trained, tiny_bert, ner_splits, tmp_path):
    out, _ = trained
    # a "task-primary" adapter covering only the last layer, with another alpha (scale 1 vs 2)
    src = load_file(str(out / "adapter_model.safetensors"))
    tpl = {k: v for k, v in src.items() if ".layer.1." in k}
    tpl_dir = tmp_path / "tpl"
    tpl_dir.mkdir()
    save_file(tpl, str(tpl_dir / "adapter_model.safetensors"))
    cfg = json.loads((out / "adapter_config.json").read_text())
    cfg["lora_alpha"] = 4
    (tpl_dir / "adapter_config.json").write_text(json.dumps(cfg))

    from peft import get_peft_model

    from mtpf_deploy.training.adapt.init_lora import init_lora_from
    from mtpf_deploy.training.encoder import load_encoder, lora_config

    model = get_peft_model(load_encoder(str(tiny_bert)), lora_config(4, 8, dropout=0.0))
    before = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}
    report = init_lora_from(model, tpl_dir)
    covered = report.initialised
    assert covered and all(".layer.1." in c for c in covered)
    assert report.fresh and all(".layer.0." in c for c in report.fresh)  # said, not silently left at random
    assert "start fresh" in "\n".join(report.lines("src"))
    params = dict(model.named_parameters())
    for k, v in tpl.items():
        name = k.replace(".weight", ".default.weight")
        expected = v * (0.5 if "lora_B" in k else 1.0)  # src scale 4/4=1, dst 8/4=2
        np.testing.assert_allclose(params[name].detach().numpy(), expected, rtol=1e-6)
    untouched = [n for n in before if ".layer.0." in n]
    assert untouched and all(torch.equal(before[n], params[n]) for n in untouched)
    # rank mismatch is a clear error
    with pytest.raises(MtpfError, match="use the same rank"):
        init_lora_from(get_peft_model(load_encoder(str(tiny_bert)), lora_config(8, 16)), tpl_dir)


def test_low_resource_fraction_and_unseen_labels(tiny_bert, ner_splits, tmp_path):
    from mtpf_deploy.data.types import TaggedSentence

    messages = []
    splits = dict(ner_splits)
    splits["test"] = ner_splits["test"] + [TaggedSentence(("Acme",), ("B-ORG",))]
    cfg = NerAdaptConfig(backbone=str(tiny_bert), **{**FAST, "epochs": 1, "warmup_epochs": 1}, train_fraction=0.1)
    metrics = adapt_ner(cfg, splits, tmp_path / "a", log=messages.append)
    assert metrics["train_sentences"] == 30
    assert any("B-ORG occur in test but never in train" in m for m in messages)


def test_existing_output_is_not_overwritten(trained, tiny_bert, ner_splits):
    out, _ = trained
    with pytest.raises(MtpfError, match="already exists"):
        adapt_ner(NerAdaptConfig(backbone=str(tiny_bert), **FAST), ner_splits, out)
