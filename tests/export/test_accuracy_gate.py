"""The int8 export's accuracy gate (issue 25): with a dev set per adapter the export reports the
metric of what ships (the runtime's entities / labels) for fp32 and int8 and their agreement, records
it in the manifest, and refuses (writing nothing) past --gate-max-drop; bad gate input is refused
before the export starts."""
from __future__ import annotations

import csv
import json

import pytest

from mtpf_deploy.errors import MtpfError
from mtpf_deploy.evaluation.shipped import shipped_ner_scores, shipped_tc_scores
from mtpf_deploy.export import accuracy_gate
from mtpf_deploy.export.write_bundle import export_bundle
from mtpf_deploy.runtime import SystemModel

quiet = lambda m: None  # noqa: E731


@pytest.fixture(scope="module")
def dev_files(ner_splits, tc_splits, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gate_data")
    ner = tmp / "ner_dev.bio"
    ner.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(s.words, s.tags)) for s in ner_splits["test"]) + "\n")
    tc = tmp / "tc_dev.csv"
    with tc.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows((x.text, x.label) for x in tc_splits["test"])
    return {"ner": ner, "tc": tc}


def test_gate_reports_the_shipped_metric_of_fp32_and_int8(tiny_bert, tiny_adapters, tiny_bundle, dev_files,
                                                          ner_splits, tc_splits, tmp_path):
    manifest = export_bundle(str(tiny_bert), tiny_adapters, tmp_path / "b", log=quiet, gate_max_drop=100,
                             gate_data=[f"ner={dev_files['ner']}", f"tc={dev_files['tc']}"], gate_format="csv")
    gate = json.loads((tmp_path / "b" / "manifest.json").read_text())["accuracy_gate"]
    assert gate == manifest["accuracy_gate"] and set(gate["adapters"]) == {"ner", "tc"}
    # the fp32 numbers are the runtime's own scores on an fp32 bundle of the same adapters (tiny_bundle)
    fp32 = SystemModel.load(tiny_bundle)
    ner, tc = gate["adapters"]["ner"], gate["adapters"]["tc"]
    assert ner["fp32"] == round(100 * shipped_ner_scores(fp32, "ner", ner_splits["test"])["f1"], 3)
    assert tc["fp32"] == round(100 * shipped_tc_scores(fp32, "tc", tc_splits["test"])["accuracy"], 3)
    int8 = SystemModel.load(tmp_path / "b")
    assert ner["int8"] == round(100 * shipped_ner_scores(int8, "ner", ner_splits["test"])["f1"], 3)
    assert ner["examples"] == len(ner_splits["test"]) and ner["metric"] == "entity F1" and tc["metric"] == "accuracy"
    for entry in (ner, tc):
        assert 0 <= entry["agreement"] <= 100 and entry["drop"] == round(entry["fp32"] - entry["int8"], 3)


def test_gate_refuses_past_the_threshold_and_writes_nothing(tiny_bert, tiny_adapters, dev_files, tmp_path, monkeypatch):
    real = accuracy_gate.score

    def int8_worse(system, name, task, examples):  # the int8 bundle scores 2 points lower than it does
        metric, pred = real(system, name, task, examples)
        return (metric - 2.0 if system.backbone["precision"] == "int8" else metric), pred

    monkeypatch.setattr(accuracy_gate, "score", int8_worse)
    with pytest.raises(MtpfError, match=r"accuracy gate: adapter ner loses 2\.00 points of entity F1.*--gate-max-drop 1\.5"):
        export_bundle(str(tiny_bert), tiny_adapters, tmp_path / "b", log=quiet, gate_max_drop=1.5,
                      gate_data=[f"ner={dev_files['ner']}"])
    assert not (tmp_path / "b").exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize(("settings", "message"), [
    ({"gate_data": ["nope=x.bio"]}, r"no adapter 'nope'"),
    ({"gate_data": ["ner"]}, r"give ADAPTER=FILE"),
    ({"gate_data": ["tc={tc}"]}, r"give --gate-format for a tc file"),
    ({"gate_data": ["tc={ner}"], "gate_format": "bio"}, r"format 'bio' does not fit a tc adapter"),
    ({"gate_data": ["ner=missing_file"]}, r"no such file, and not a registered dataset"),
    ({"gate_data": ["ner=banking77"]}, r"a tc dataset, but the adapter is ner"),
    ({"gate_data": ["ner={ner}"], "precision": "fp32"}, r"needs --backend onnx and --precision int8"),
])
def test_bad_gate_input_is_refused_before_the_export(tiny_bert, tiny_adapters, dev_files, tmp_path, settings, message):
    settings = {k: [v.format(**dev_files) for v in s] if k == "gate_data" else s for k, s in settings.items()}
    with pytest.raises(MtpfError, match=message):
        export_bundle(str(tiny_bert), tiny_adapters, tmp_path / "b", log=quiet, **settings)
    assert not (tmp_path / "b").exists()
