"""`evaluate`: the quick profile end to end on a tiny model, resumability, one failing cell, baselines,
and the TC cell against `adapt tc`'s MTEB protocol (the reference it must reproduce)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mtpf_deploy.cli import main
from mtpf_deploy.errors import MtpfError
from mtpf_deploy.evaluation import evaluate as eval_run
from mtpf_deploy.evaluation.evaluate import Evaluator, Model, evaluate
from mtpf_deploy.evaluation.report import load_results
from mtpf_deploy.evaluation.suites import load_suite, parse_suite


@pytest.fixture(scope="module")
def quick_out(tiny_bert, quick_data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("quick")
    result = CliRunner().invoke(main, ["evaluate", "--backbone", str(tiny_bert), "--suite", "quick",
                                       "--data-root", str(quick_data_root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_quick_profile_runs_end_to_end(quick_out, tiny_bert):
    cells = sorted(p.stem for p in (quick_out / "cells").glob("*.json"))
    assert cells == ["ner-conll2003-f0.01-s0", "ner-wnut17-f0.05-s0", "tc-banking77-n8-s0", "tc-emotion-n8-s0"]
    results = load_results(quick_out)
    assert {r["dataset"] for r in results["rows"]} == {"conll2003", "wnut17", "banking77", "emotion"}
    assert set(results["families"]) == {"ner", "tc"}
    for r in results["rows"]:
        assert 0 <= r["mean"] <= 1 and r["seeds"] == [0]
    ner = json.loads((quick_out / "cells" / "ner-wnut17-f0.05-s0.json").read_text())
    assert ner["metric"] == "f1" and ner["train_examples"] == 15 and ner["eval_examples"] == 60
    assert 0 <= ner["shipped_f1"] <= 1  # the F1 of the runtime's entities, beside seqeval's (adapt ner)
    assert ner["model"]["backbone"] == str(tiny_bert) and len(ner["model"]["backbone_sha256"]) == 64
    tc = json.loads((quick_out / "cells" / "tc-banking77-n8-s0.json").read_text())
    assert tc["metric"] == "accuracy" and tc["n_experiments"] == 5 and tc["train_examples"] == 24  # 3 labels x 8
    md = (quick_out / "results.md").read_text()
    assert "| NER | conll2003 | 0.01 of train | f1 | 1 |" in md and "**TC average**" in md


def test_rerun_skips_finished_cells(quick_out, tiny_bert, quick_data_root, monkeypatch):
    monkeypatch.setattr(Evaluator, "run_cell", lambda self, cell: pytest.fail(f"re-ran {cell.key}"))
    done = evaluate(Model(str(tiny_bert)), load_suite("quick"), quick_out, quick_data_root, log=lambda m: None)
    assert done["errors"] == {} and done["results"]["cells"] == 4


def test_a_failing_cell_is_reported_and_the_others_run(tiny_bert, quick_data_root, tmp_path, monkeypatch):
    real = Evaluator.run_cell

    def flaky(self, cell):
        if cell.key == "tc-banking77-n8-s0":
            raise RuntimeError("boom")
        return {"metric": "f1", "value": 0.5} if cell.entry.task == "ner" else real(self, cell)

    monkeypatch.setattr(Evaluator, "run_cell", flaky)
    result = CliRunner().invoke(main, ["evaluate", "--backbone", str(tiny_bert), "--suite", "quick",
                                       "--data-root", str(quick_data_root), "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "1 cell(s) failed: tc-banking77-n8-s0" in result.output and "Traceback" not in result.output
    assert sorted(p.stem for p in (tmp_path / "cells").glob("*.json")) == [
        "ner-conll2003-f0.01-s0", "ner-wnut17-f0.05-s0", "tc-emotion-n8-s0"]
    assert "RuntimeError: boom" in json.loads((tmp_path / "errors.json").read_text())["tc-banking77-n8-s0"]["error"]


def test_baseline_adds_deltas(quick_out, tiny_bert, quick_data_root, tmp_path):
    for p in (quick_out / "cells").glob("*.json"):  # the same model evaluated again: every delta is 0
        (tmp_path / "cells").mkdir(exist_ok=True)
        (tmp_path / "cells" / p.name).write_text(p.read_text())
    (tmp_path / "model.json").write_text((quick_out / "model.json").read_text())
    result = CliRunner().invoke(main, ["evaluate", "--backbone", str(tiny_bert), "--suite", "quick",
                                       "--data-root", str(quick_data_root), "--out", str(tmp_path),
                                       "--baseline", str(quick_out / "results.json")])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert all(r["delta_vs_baseline"] == 0 for r in rows)
    assert "| baseline | Δ |" in (tmp_path / "results.md").read_text()


def test_out_of_another_model_is_refused(quick_out, tiny_bert, quick_data_root, tmp_path):
    with pytest.raises(MtpfError, match="holds results of another model"):
        evaluate(Model(str(tiny_bert), run="another-run"), load_suite("quick"), quick_out, quick_data_root)
    (tmp_path / "run").mkdir()
    with pytest.raises(MtpfError, match="no backbone/ folder"):
        Model.from_args(None, tmp_path / "run")


def test_bad_baseline_and_suite_are_clear_cli_errors(tiny_bert, tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text("{}")
    for args, message in ((["--baseline", str(bad)], "not an `mtpf-deploy evaluate` results.json"),
                          (["--suite", "nope"], "not a built-in suite")):
        result = CliRunner().invoke(main, ["evaluate", "--backbone", str(tiny_bert), "--out", str(tmp_path / "o"), *args])
        assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output


def test_registered_dataset_needs_data_root(tiny_bert, tmp_path):
    result = CliRunner().invoke(main, ["evaluate", "--backbone", str(tiny_bert), "--out", str(tmp_path)])
    assert result.exit_code != 0 and "pass --data-root" in result.output


def test_tc_cell_reproduces_adapt_tc_mteb_protocol(tiny_bert, tc_splits, tmp_path):
    """The cell embeds only the undersampled rows; `adapt tc` embeds all of train: same numbers."""
    from mtpf_deploy.training.adapt.config import TcAdaptConfig
    from mtpf_deploy.training.adapt.tc import adapt_tc

    train = tmp_path / "train.csv"
    test = tmp_path / "test.csv"
    for path, rows in ((train, tc_splits["train"]), (test, tc_splits["test"])):
        path.write_text("text,label\n" + "".join(f"{x.text},{x.label}\n" for x in rows))
    suite = parse_suite({"seeds": [3], "tc": {"n_experiments": 4},
                         "dataset": [{"name": "topics", "task": "tc", "train": str(train), "test": str(test),
                                      "format": "csv", "samples_per_label": [5]}]}, "test", tmp_path)
    cell = suite.cells()[0]
    mine = Evaluator(Model(str(tiny_bert)), suite, None).run_cell(cell)
    reference = adapt_tc(TcAdaptConfig(backbone=str(tiny_bert), samples_per_label="5", n_experiments=4, seed=3,
                                       calibrate="none"), tc_splits, tmp_path / "adapter", log=lambda m: None)
    assert mine["value"] == pytest.approx(reference["mteb_protocol"]["accuracy"], abs=1e-9)
    assert mine["f1_macro"] == pytest.approx(reference["mteb_protocol"]["f1_macro"], abs=1e-9)


def test_eval_subset_is_seeded_and_shared():
    records = list(range(100))
    a, b = eval_run._eval_subset(records, 10), eval_run._eval_subset(records, 10)
    assert a == b and len(a) == 10 and a == sorted(a)
    assert eval_run._eval_subset(records, 0) == records and eval_run._eval_subset(records, 200) == records
