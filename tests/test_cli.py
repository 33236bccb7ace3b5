"""The CLI end to end on a tiny model, and its error messages (one line, no traceback)."""
from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from mtpf_deploy.cli import main
from mtpf_deploy.errors import MtpfError


def _write_csv(path, examples):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for x in examples:
            w.writerow([x.text, x.label])
    return path


def _write_bio(path, sentences):
    path.write_text("".join("".join(f"{w}\t{t}\n" for w, t in zip(s.words, s.tags)) + "\n" for s in sentences))
    return path


def test_adapt_tc_cli_end_to_end(tiny_bert, tc_splits, tmp_path):
    train = _write_csv(tmp_path / "train.csv", tc_splits["train"])
    test = _write_csv(tmp_path / "test.csv", tc_splits["test"])
    res = CliRunner().invoke(main, ["adapt", "tc", "--backbone", str(tiny_bert), "--train", str(train), "--test",
                                    str(test), "--format", "csv", "--out", str(tmp_path / "o"), "--n-experiments", "2",
                                    "--samples-per-label", "all", "--description", "tiny topics", "--license", "mit"])
    assert res.exit_code == 0, res.output
    assert "test: accuracy" in res.output and "pred" in res.output
    assert json.loads((tmp_path / "o/metrics.json").read_text())["test"]["accuracy"] > 0.8
    card = json.loads((tmp_path / "o/task.json").read_text())["card"]  # the card starts at adapt
    assert card == {"description": "tiny topics", "license": "mit",
                    "training_data": f"train.csv: {len(tc_splits['train'])} train examples"}


def test_adapt_ner_cli_end_to_end(tiny_bert, ner_splits, tmp_path):
    train = _write_bio(tmp_path / "train.conll", ner_splits["train"])
    dev = _write_bio(tmp_path / "dev.conll", ner_splits["dev"])
    res = CliRunner().invoke(main, ["adapt", "ner", "--backbone", str(tiny_bert), "--train", str(train), "--dev",
                                    str(dev), "--out", str(tmp_path / "o"), "--lora-r", "4", "--alpha", "8",
                                    "--warmup-epochs", "1", "--epochs", "2", "--examples", "2"])
    assert res.exit_code == 0, res.output
    assert "dev: entity F1" in res.output and res.output.count("gold:") == 2


def test_errors_are_one_clear_line(tiny_bert, tmp_path):
    runner = CliRunner()
    cases = [
        (["adapt", "ner", "--out", str(tmp_path / "x")], "no training data"),
        (["adapt", "ner", "--dataset", "nope", "--data-root", str(tmp_path), "--out", str(tmp_path / "x")],
         "unknown dataset 'nope'"),
        (["adapt", "tc", "--dataset", "wnut17", "--data-root", str(tmp_path), "--out", str(tmp_path / "x")],
         "is a ner dataset, not tc"),
        (["adapt", "ner", "--backbone", str(tmp_path), "--train", str(tmp_path / "missing.conll"),
          "--out", str(tmp_path / "x")], "no such file"),
        (["adapt", "tc", "--train", str(tmp_path / "a.csv"), "--format", "csv", "--samples-per-label", "x",
          "--out", str(tmp_path / "x")], "--samples-per-label must be"),
    ]
    bad = tmp_path / "bad.conll"
    bad.write_text("word\tO\nlonely\n")
    cases.append((["adapt", "ner", "--backbone", str(tiny_bert), "--train", str(bad), "--out", str(tmp_path / "x")],
                  "bad.conll:2: expected a token and a tag"))
    cases.append((["adapt", "ner", "--backbone", str(tmp_path / "nodir"), "--train", str(bad), "--out",
                   str(tmp_path / "x")], "bad.conll:2"))
    for args, message in cases:
        res = runner.invoke(main, args)
        assert res.exit_code == 1, (args, res.output)
        assert message in res.output, (args, res.output)
        assert "Traceback" not in res.output
    assert not (tmp_path / "x").exists()  # nothing half-written


def test_bad_backbone_is_a_clear_error(tiny_bert, ner_splits, tmp_path):
    train = _write_bio(tmp_path / "train.conll", ner_splits["train"][:5])
    res = CliRunner().invoke(main, ["adapt", "ner", "--backbone", str(tmp_path / "nodir"), "--train", str(train),
                                    "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "is not a directory" in res.output


def test_export_predict_inspect_cli(tiny_bert, tiny_adapters, tmp_path):
    runner = CliRunner()
    bundle = tmp_path / "bundle"
    res = runner.invoke(main, ["export", "--backbone", str(tiny_bert), "--adapters",
                               f"ner={tiny_adapters['ner']},tc={tiny_adapters['tc']}", "--quantize", "int8",
                               "--out", str(bundle)])
    assert res.exit_code == 0, res.output
    assert (bundle / "adapters/ner.mtpfa").exists() and (bundle / "adapters/tc.mtpfa").exists()
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["backbone"]["precision"] == "int8" and len(manifest["backbone"]["slots"]) == 12

    res = runner.invoke(main, ["export", "--backbone", str(tiny_bert), "--adapters", f"ner={tiny_adapters['ner']}",
                               "--int8-keep-fp32", "ffn_out", "--out", str(tmp_path / "mixed")])
    assert res.exit_code == 0, res.output
    mixed = json.loads((tmp_path / "mixed/manifest.json").read_text())["backbone"]
    assert mixed["int8_options"] == {"keep_fp32": ["ffn_out"]}
    assert (tmp_path / "mixed/backbone.onnx").stat().st_size > (bundle / "backbone.onnx").stat().st_size

    res = runner.invoke(main, ["predict", "--bundle", str(bundle), "--adapter", "ner", "we met Alice Smith in Paris"])
    assert res.exit_code == 0, res.output
    line = json.loads(res.stdout.splitlines()[0])
    assert {(e["text"], e["label"]) for e in line["entities"]} == {("Alice Smith", "PER"), ("Paris", "LOC")}

    texts = tmp_path / "in.txt"
    texts.write_text("a goal and a match and a team\npizza and soup\n")
    res = runner.invoke(main, ["predict", "--bundle", str(bundle), "--adapter", "tc", "--input", str(texts),
                               "--top-k", "2"])
    lines = [json.loads(l) for l in res.stdout.splitlines()]
    assert [l["label"] for l in lines] == ["sport", "food"] and len(lines[0]["probabilities"]) == 2
    res = runner.invoke(main, ["predict", "--bundle", str(bundle), "--adapter", "tc"], input="pizza and pasta\n")
    assert json.loads(res.stdout.splitlines()[0])["label"] == "food"

    res = runner.invoke(main, ["inspect", str(bundle)])
    assert res.exit_code == 0 and "12 LoRA slots" in res.output and "adapter ner" in res.output
    res = runner.invoke(main, ["inspect", str(bundle / "backbone.onnx")])
    assert res.exit_code == 0 and "file matches the manifest's sha256" in res.output
    res = runner.invoke(main, ["inspect", str(bundle / "adapters/ner.mtpfa"), "--bundle", str(bundle)])
    assert res.exit_code == 0 and "backbone hash matches" in res.output


def test_export_refuses_adapter_of_another_backbone(tiny_adapters, tmp_path):
    from tests.conftest import vocabulary
    from tests.tiny_bert import make_tiny_bert

    other = make_tiny_bert(tmp_path / "other", vocabulary(), seed=1)
    res = CliRunner().invoke(main, ["export", "--backbone", str(other), "--adapters", f"ner={tiny_adapters['ner']}",
                                    "--quantize", "none", "--out", str(tmp_path / "b")])
    assert res.exit_code == 1 and "was trained on backbone weights" in res.output
    assert not (tmp_path / "b").exists()  # atomic: no half bundle
    res = CliRunner().invoke(main, ["export", "--backbone", str(other), "--adapters", "nope", "--out",
                                    str(tmp_path / "b")])
    assert res.exit_code == 1 and "adapter 'nope' not found" in res.output


def test_adapter_folders_without_lora_are_clear_errors(tiny_bert, tc_splits, tmp_path):
    train = _write_csv(tmp_path / "train.csv", tc_splits["train"])
    runner = CliRunner()
    res = runner.invoke(main, ["adapt", "tc", "--backbone", str(tiny_bert), "--train", str(train), "--format", "csv",
                               "--out", str(tmp_path / "head_only"), "--n-experiments", "0", "--examples", "0"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["adapt", "tc", "--backbone", str(tiny_bert), "--train", str(train), "--format", "csv",
                               "--adapter", str(tmp_path / "head_only"), "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "holds no LoRA" in res.output
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "task.json").write_text("{}")
    bio = tmp_path / "t.conll"
    bio.write_text("Paris\tB-LOC\n\n")
    res = runner.invoke(main, ["adapt", "ner", "--backbone", str(tiny_bert), "--train", str(bio),
                               "--init-adapter", str(empty), "--out", str(tmp_path / "y")])
    assert res.exit_code == 1 and "no adapter_config.json" in res.output and "Traceback" not in res.output


def test_pack_one_more_adapter_for_an_existing_bundle(tiny_bundle, tiny_adapters, tmp_path):
    from mtpf_deploy.runtime import SystemModel

    out = tmp_path / "mine.mtpfa"
    res = CliRunner().invoke(main, ["pack", "--bundle", str(tiny_bundle), "--adapter", str(tiny_adapters["ner"]),
                                    "--name", "mine", "--out", str(out)])
    assert res.exit_code == 0, res.output
    system = SystemModel.load(tiny_bundle)
    text = ["we met Alice Smith in Paris"]
    assert system.entities(text, system.load_adapter(out)) == system.entities(text, "ner")
    res = CliRunner().invoke(main, ["pack", "--bundle", str(tiny_bundle), "--adapter", str(tiny_adapters["ner"]),
                                    "--name", "mine", "--out", str(out)])
    assert res.exit_code == 1 and "already exists" in res.output


def test_export_keeps_every_repeated_adapter_and_takes_the_old_flags(tiny_bert, tiny_adapters, tmp_path):
    """``--adapters`` given twice keeps both (it kept only the last); ``--backend`` is the flag,
    ``--format`` / ``--quantize`` still work as hidden aliases with their old values."""
    res = CliRunner().invoke(main, ["export", "--backbone", str(tiny_bert), "--adapters", f"x={tiny_adapters['ner']}",
                                    "--adapters", f"y={tiny_adapters['tc']}", "--format", "onnx", "--quantize", "none",
                                    "--out", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "b/manifest.json").read_text())
    assert sorted(manifest["adapters"]) == ["x", "y"] and manifest["backbone"]["precision"] == "fp32"
    res = CliRunner().invoke(main, ["export", "--backbone", str(tiny_bert), "--backend", "tflite", "--out", str(tmp_path / "c")])
    assert res.exit_code == 2 and "tflite" in res.output and not (tmp_path / "c").exists()
    assert "--backend [onnx|executorch]" in CliRunner().invoke(main, ["export", "--help"]).output


def test_predict_dispatches_by_the_task_table(tiny_bundle, tmp_path):
    """``predict`` reads the adapter's task kind from the table: texts for ner/tc, JSONL pairs for pair tasks."""
    res = CliRunner().invoke(main, ["predict", "--bundle", str(tiny_bundle), "--adapter", "tc", "--top-k", "1",
                                    "pizza and pasta"])
    assert res.exit_code == 0, res.output
    line = json.loads(res.stdout.splitlines()[0])
    assert line["text"] == "pizza and pasta" and len(line["probabilities"]) == 1
    res = CliRunner().invoke(main, ["predict", "--bundle", str(tiny_bundle), "--adapter", "tc", "--input",
                                    str(tmp_path / "missing.txt")])
    assert res.exit_code == 1 and "missing.txt: no such file" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(main, ["predict", "--adapter", "tc", "x"])
    assert res.exit_code == 1 and "--bundle is required" in res.output


def test_edges_give_one_line_errors_not_tracebacks(tiny_bert, tiny_bundle, tiny_adapters, tmp_path, monkeypatch):
    """Issue 21, item 6: every edge below is a clear one-line error naming the file, line or flag."""
    runner = CliRunner()
    texts = tmp_path / "t.txt"
    texts.write_text("pizza\n")
    cases = [(["predict", "--bundle", str(tiny_bundle), "--adapter", "tc", "--input", str(texts), "pizza"],
              "give texts as arguments or --input FILE, not both")]
    gz = tmp_path / "train.conll.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 40)  # a gzip header, then garbage
    cases.append((["adapt", "ner", "--backbone", str(tiny_bert), "--train", str(gz), "--out", str(tmp_path / "x")],
                  "train.conll.gz: cannot be read"))
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    cases.append((["adapt", "tc", "--backbone", str(tiny_bert), "--train", str(deep), "--format", "jsonl", "--out",
                   str(tmp_path / "x")], "deep.jsonl:1: invalid JSON (nested more than 64 levels deep)"))
    nulls = tmp_path / "null.jsonl"
    nulls.write_text('{"text": null, "label": "a"}\n')
    cases.append((["adapt", "tc", "--backbone", str(tiny_bert), "--train", str(nulls), "--format", "jsonl", "--out",
                   str(tmp_path / "x")], "null.jsonl:1: field 'text' must be a string"))
    train = tmp_path / "train.conll"
    train.write_text("alice\tB-PER\n\n")
    for flags, message in [(["--lora-dropout", "2.0"], "--lora-dropout must be in [0, 1), got 2.0"),
                           (["--head-lr", "-1"], "--head-lr must be positive, got -1.0"),
                           (["--epochs", "0", "--warmup-epochs", "0"], "nothing would train"),
                           (["--epochs", "-3"], "--epochs must be >= 0, got -3"),
                           (["--max-length", "2"], "--max-length must be >= 3, got 2")]:
        cases.append((["adapt", "ner", "--backbone", str(tiny_bert), "--train", str(train), "--out", str(tmp_path / "x"),
                       *flags], message))
    for args, message in cases:
        res = runner.invoke(main, args)
        assert res.exit_code == 1 and message in res.output and "Traceback" not in res.output, (args, res.output)
    assert not (tmp_path / "x").exists()

    def full(*a, **kw):
        raise OSError(28, "No space left on device", str(tmp_path / "app.mtpfa"))
    monkeypatch.setattr("mtpf_deploy.export.pack.write_adapter_file", full)
    res = runner.invoke(main, ["pack", "--bundle", str(tiny_bundle), "--adapter", str(tiny_adapters["ner"]), "--name",
                               "app", "--out", str(tmp_path / "app.mtpfa")])
    assert res.exit_code == 1 and "the disk is full" in res.output and "Traceback" not in res.output, res.output
    assert list(tmp_path.glob("*app.mtpfa*")) == []  # nothing half-written


def test_pair_input_that_nests_too_deep_is_a_line_error(tmp_path):
    from mtpf_deploy.cli.text_input import read_pairs

    with pytest.raises(MtpfError, match="in.jsonl:2: not a JSON object \\(nested more than 64 levels deep\\)"):
        read_pairs(['{"text_a": "a", "text_b": "b"}', "[" * 100_000 + "]" * 100_000], tmp_path / "in.jsonl")
