"""``migrate`` on tiny models (issue 27): the old tiny bundle's adapters (ner, tc) taught to a LoRA + head on
another tiny BERT without labels. The migrated adapter reproduces its teacher on the training texts, its
lineage is written and validated, a kill between epochs resumes to the uninterrupted result, a name the
new bundle uses for another label set is refused, and the old backbone refuses the migrated adapter."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mtpf_deploy.errors import AdapterError, MtpfError
from mtpf_deploy.export.write_bundle import export_bundle
from mtpf_deploy.formats.adapter_file import read_adapter_file
from mtpf_deploy.runtime import SystemModel
from mtpf_deploy.training.migrate import student as student_module
from mtpf_deploy.training.migrate.config import MigrateConfig
from mtpf_deploy.training.migrate.migrate import migrate_adapter
from tests.conftest import make_ner_sentences, make_tc_examples, vocabulary
from tests.runtime.crafting import craft
from tests.tiny_bert import make_tiny_bert

TEXTS = [" ".join(s.words) for s in make_ner_sentences(260, 7)] + [x.text for x in make_tc_examples(260, 8)]


@pytest.fixture(scope="module")
def new(tmp_path_factory):
    """Another tiny BERT (other random weights, same vocabulary) and its bundle: the backbone update."""
    tmp = tmp_path_factory.mktemp("new_backbone")
    bert = make_tiny_bert(tmp / "bert", vocabulary(), seed=5)
    export_bundle(str(bert), {}, tmp / "bundle", precision="fp32", log=lambda m: None)
    return bert, tmp / "bundle"


def config(tiny_bundle, new, **kw) -> MigrateConfig:
    bert, bundle = new
    base = dict(from_bundle=str(tiny_bundle), to=str(bundle), new_backbone=str(bert), texts="unused", epochs=10,
                batch_size=16, lora_lr=1e-2, head_lr=5e-2, heldout=0.2, min_agreement=0.0)
    return MigrateConfig(**{**base, **kw})


@pytest.mark.parametrize("adapter,floor", [("ner", 0.8), ("tc", 0.8)])  # chance: ~0.33 for tc
def test_a_migrated_adapter_reproduces_its_teacher(tiny_bundle, new, tmp_path, adapter, floor):
    out = tmp_path / f"{adapter}.mtpfa"
    report = migrate_adapter(config(tiny_bundle, new), adapter, out, TEXTS, log=lambda m: None)
    assert report["agreement"]["score"] >= floor, report["agreement"]
    old, migrated = SystemModel.load(tiny_bundle), SystemModel.load(new[1])
    migrated.load_adapter(out)
    train = TEXTS[:200]
    if adapter == "tc":
        same = np.mean([a.label == b.label for a, b in zip(old.classify(train, "tc"), migrated.classify(train, "tc"))])
    else:
        t = [{(e.label, e.start, e.end) for e in es} for es in old.entities(train, "ner")]
        s = [{(e.label, e.start, e.end) for e in es} for es in migrated.entities(train, "ner")]
        same = sum(len(a & b) for a, b in zip(t, s)) * 2 / max(1, sum(len(a) + len(b) for a, b in zip(t, s)))
    assert same >= floor
    assert report["losses"][-1] < report["losses"][0]  # it learned (soft targets: the loss keeps their entropy)
    written = json.loads(out.with_name(out.name + ".report.json").read_text())
    assert written["agreement"] == report["agreement"] and written["texts"] + written["heldout"] == len(set(TEXTS))


def test_lineage_is_written_and_validated(tiny_bundle, new, tmp_path):
    out = tmp_path / "tc.mtpfa"
    report = migrate_adapter(config(tiny_bundle, new, epochs=1), "tc", out, TEXTS, log=lambda m: None)
    af = read_adapter_file(out)
    lineage = af.manifest["lineage"]
    old_sha = SystemModel.load(tiny_bundle).backbone["weights_sha256"]
    assert lineage["parent_sha256"] == report["parent_sha256"] and lineage["backbone_binding"] == "trained-on"
    assert lineage["migration"] == {"old_backbone_sha256": old_sha, "texts_sha256": report["texts_sha256"],
                                    "texts": report["texts"], "heldout": report["heldout"]}
    assert af.name == "tc" and af.labels == read_adapter_file(tiny_bundle / "adapters" / "tc.mtpfa").labels
    assert af.manifest["card"]["version"].endswith("+migrated")
    for edit, words in ((lambda m: m["lineage"].update(parent_sha256=None), "needs 'lineage.parent_sha256'"),
                        (lambda m: m["lineage"]["migration"].update(texts=-1), "non-negative"),
                        (lambda m: m["lineage"]["migration"].update(old_backbone_sha256="x"), "hex"),
                        (lambda m: m["lineage"]["migration"].update(extra=1), "extra")):
        with pytest.raises(AdapterError, match=words):
            read_adapter_file(craft(out, tmp_path / "bad.mtpfa", manifest=edit))


def test_the_old_backbone_refuses_the_migrated_adapter(tiny_bundle, new, tmp_path):
    out = tmp_path / "tc.mtpfa"
    migrate_adapter(config(tiny_bundle, new, epochs=1), "tc", out, TEXTS, log=lambda m: None)
    with pytest.raises(AdapterError, match="weights|backbone"):
        SystemModel.load(tiny_bundle).load_adapter(out)


def test_a_name_the_new_bundle_uses_for_another_label_set_is_refused(tiny_bundle, new, tiny_bert, tiny_adapters, tmp_path):
    bert, _ = new
    clash = tmp_path / "clash"
    export_bundle(str(bert), {}, clash, precision="fp32", log=lambda m: None)
    manifest = json.loads((clash / "manifest.json").read_text())
    (clash / "adapters").mkdir(exist_ok=True)
    craft(tiny_bundle / "adapters" / "ner.mtpfa", clash / "adapters" / "tc.mtpfa")  # "tc" here is an NER adapter
    manifest["adapters"] = {"tc": "adapters/tc.mtpfa"}
    (clash / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(MtpfError, match="another task or label set"):
        migrate_adapter(config(tiny_bundle, (bert, clash)), "tc", tmp_path / "x.mtpfa", TEXTS, log=lambda m: None)
    assert not (tmp_path / "x.mtpfa").exists()
    with pytest.raises(MtpfError, match="same backbone"):  # and "migrating" onto the same backbone is refused
        migrate_adapter(config(tiny_bundle, new, to=str(tiny_bundle)), "tc", tmp_path / "y.mtpfa", TEXTS, log=lambda m: None)


def test_below_the_agreement_threshold_nothing_is_written(tiny_bundle, new, tmp_path):
    out = tmp_path / "ner.mtpfa"
    with pytest.raises(MtpfError, match="below --min-agreement"):
        migrate_adapter(config(tiny_bundle, new, epochs=1, min_agreement=1.0), "ner", out, TEXTS, log=lambda m: None)
    assert not out.exists()


def test_a_killed_run_resumes_to_the_uninterrupted_result(tiny_bundle, new, tmp_path, monkeypatch):
    whole = tmp_path / "whole.mtpfa"
    migrate_adapter(config(tiny_bundle, new, epochs=3), "ner", whole, TEXTS, log=lambda m: None)
    real = student_module.save_checkpoint

    def killed_after_two(folder, student, optimizer, scheduler, epoch, losses):
        real(folder, student, optimizer, scheduler, epoch, losses)
        if epoch == 2:
            raise KeyboardInterrupt  # as a kill after the second checkpoint

    resumed = tmp_path / "resumed.mtpfa"
    from mtpf_deploy.training.migrate import migrate as migrate_module

    monkeypatch.setattr(migrate_module, "save_checkpoint", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        migrate_adapter(config(tiny_bundle, new, epochs=3), "ner", resumed, TEXTS, log=lambda m: None)
    assert not resumed.exists()
    monkeypatch.setattr(migrate_module, "save_checkpoint", real)
    lines: list[str] = []
    migrate_adapter(config(tiny_bundle, new, epochs=3), "ner", resumed, TEXTS, log=lines.append)
    assert any("resuming after epoch 2" in line for line in lines) and any("read from" in line for line in lines)
    a, b = read_adapter_file(whole), read_adapter_file(resumed)
    for name in a.lora:
        np.testing.assert_allclose(a.lora[name], b.lora[name], atol=1e-6)
    np.testing.assert_allclose(a.head["weight"], b.head["weight"], atol=1e-6)


def test_batch_mode_migrates_every_adapter_with_one_line_each(tiny_bundle, new, tmp_path):
    from click.testing import CliRunner

    from mtpf_deploy.cli import main

    bert, bundle = new
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS[:120]) + "\n")
    res = CliRunner().invoke(main, ["migrate", "--from", str(tiny_bundle), "--to", str(bundle), "--new-backbone",
                                    str(bert), "--texts", str(texts), "--epochs", "1", "--min-agreement", "0",
                                    "--out-dir", str(tmp_path / "migrated")])
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in res.output.splitlines() if line.startswith("{")]
    assert [(x["adapter"], x["status"]) for x in lines] == [("ner", "migrated"), ("tc", "migrated")]
    assert {p.name for p in (tmp_path / "migrated").glob("*.mtpfa")} == {"ner.mtpfa", "tc.mtpfa"}
    refused = CliRunner().invoke(main, ["migrate", "--from", str(tiny_bundle), "--to", str(bundle), "--new-backbone",
                                        str(bert), "--texts", str(texts), "--epochs", "1", "--min-agreement", "1",
                                        "--out-dir", str(tmp_path / "strict")])
    statuses = [json.loads(line)["status"] for line in refused.output.splitlines() if line.startswith("{")]
    assert len(statuses) == 2 and statuses[0] == "refused"  # ner after one epoch cannot agree perfectly
    count = statuses.count("refused")
    assert refused.exit_code != 0 and f"{count} of 2 adapters were not migrated" in refused.output
    assert not (tmp_path / "strict" / "ner.mtpfa").exists()


def test_a_head_only_tc_adapter_migrates_by_logistic_regression(tiny_bert, tc_splits, new, tmp_path):
    """A head-only tc adapter (``adapt tc`` without fine-tuning) gets a head fitted to the teacher's
    distributions on the new backbone's embeddings, with no epochs; it follows the teacher far above chance
    (the new tiny backbone is random: its embeddings bound what a linear head can reach)."""
    from mtpf_deploy.training.adapt.config import TcAdaptConfig
    from mtpf_deploy.training.adapt.tc import adapt_tc

    adapt_tc(TcAdaptConfig(backbone=str(tiny_bert)), tc_splits, tmp_path / "tc", log=lambda m: None)
    old_bundle = tmp_path / "old"
    export_bundle(str(tiny_bert), {"tc": tmp_path / "tc"}, old_bundle, precision="fp32", log=lambda m: None)
    assert read_adapter_file(old_bundle / "adapters" / "tc.mtpfa").lora == {}
    out = tmp_path / "tc.mtpfa"
    lines: list[str] = []
    report = migrate_adapter(config(old_bundle, new), "tc", out, TEXTS, log=lines.append)
    assert report["losses"] == [] and any("no epochs" in line for line in lines)
    assert report["agreement"]["score"] >= 0.6, report["agreement"]  # one label for all: ~0.33; 10 epochs of SGD: 0.74
    assert read_adapter_file(out).lora == {}
