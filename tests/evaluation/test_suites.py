"""Suite files: built-ins parse, files resolve, and every bad input is a clear error naming file and entry."""
from __future__ import annotations

import pytest

from mtpf_deploy.errors import MtpfError
from mtpf_deploy.evaluation.suites import BUILTIN, load_suite


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_suites_parse(name):
    suite = load_suite(name)
    keys = [c.key for c in suite.cells()]
    assert keys and len(keys) == len(set(keys))
    assert {c.entry.task for c in suite.cells()} == {"ner", "tc"}


def test_reproduction_suite_is_the_issue_bar():
    cells = load_suite("reproduction").cells()
    assert sorted(c.key for c in cells) == sorted(
        [f"ner-conll2003-f0.01-s{s}" for s in range(3)] + [f"tc-banking77-n8-s{s}" for s in range(3)])
    assert all(c.entry.max_eval == 0 for c in cells)  # full test splits


def write(tmp_path, text):
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return path


def test_suite_file_with_registered_and_file_datasets(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "train.csv").write_text("text,label\na,x\n")
    (tmp_path / "d" / "test.csv").write_text("text,label\nb,y\n")
    suite = load_suite(write(tmp_path, """
name = "mine"
seeds = [1, 2]
[ner]
epochs = 3
[tc]
n_experiments = 2
[[dataset]]
name = "conll2003"
fractions = [0.01, 0.1]
max_eval = 100
[[dataset]]
name = "intents"
task = "tc"
train = "d/train.csv"
test = "d/test.csv"
format = "csv"
samples_per_label = [4, "all"]
seeds = [7]
"""))
    assert suite.name == "mine" and suite.ner == {"epochs": 3} and suite.tc == {"n_experiments": 2}
    assert [c.key for c in suite.cells()] == ["ner-conll2003-f0.01-s1", "ner-conll2003-f0.01-s2",
                                              "ner-conll2003-f0.1-s1", "ner-conll2003-f0.1-s2",
                                              "tc-intents-n4-s7", "tc-intents-nall-s7"]
    files = suite.datasets[1].files
    assert files["train"] == str((tmp_path / "d" / "train.csv").resolve())


@pytest.mark.parametrize("body,message", [
    ('[[dataset]]\nname = "nope"', r"dataset 1 \(nope\): unknown dataset 'nope'"),
    ('[[dataset]]\nname = "conll2003"\nfractions = [1.5]', r"dataset 1 \(conll2003\): fraction 1.5 must be a number in \(0, 1\]"),
    ('[[dataset]]\nname = "conll2003"\nfractions = [0]', r"fraction 0 must be"),
    ('[[dataset]]\nname = "conll2003"\nfractions = []', r"fractions is empty"),
    ('[[dataset]]\nname = "banking77"\nfractions = [0.1]', r"fractions are for ner datasets"),
    ('[[dataset]]\nname = "conll2003"\nsamples_per_label = [8]', r"samples_per_label is for tc datasets"),
    ('[[dataset]]\nname = "banking77"\nsamples_per_label = [0]', r"samples_per_label '0' must be a positive"),
    ('[[dataset]]\nname = "conll2003"\nmax_eval = -1', r"max_eval must be a non-negative integer"),
    ('[[dataset]]\nname = "conll2003"\ncolour = 1', r"unknown key\(s\) colour"),
    ('[[dataset]]\nname = "mrpc"', r"is a pairs dataset"),
    ('[[dataset]]\nname = "banking77"\ntask = "ner"', r"is a tc dataset, not ner"),
    ('[[dataset]]\nname = "x"\ntrain = "missing.csv"\ntest = "missing.csv"\ntask = "tc"', r"train file .*missing.csv does not exist"),
    ('[[dataset]]\nname = "x"\ntrain = "suite.toml"\ntask = "tc"', r"needs train and test"),
    ('[[dataset]]\nname = "x"\ntrain = "suite.toml"\ntest = "suite.toml"', r'needs task = "ner" or "tc"'),
    ('[[dataset]]\nname = "x"\ntrain = "suite.toml"\ntest = "suite.toml"\ntask = "ner"\nformat = "csv"',
     r"format 'csv' is not a ner format"),
    ('[[dataset]]\nname = "conll2003"\n[[dataset]]\nname = "conll2003"', r"dataset names repeat: conll2003"),
    ('seeds = [-1]\n[[dataset]]\nname = "conll2003"', r"seeds must be non-negative integers"),
    ('[ner]\nlearning_speed = 1\n[[dataset]]\nname = "conll2003"', r"\[ner\]: unknown setting 'learning_speed'"),
    ('[ner]\nbackbone = "x"\n[[dataset]]\nname = "conll2003"', r"\[ner\]: unknown setting 'backbone'"),
    ('[tc]\nsamples_per_label = "3"\n[[dataset]]\nname = "banking77"', r"\[tc\]: unknown setting"),
    ('[ner]\nbatch_size = 0\n[[dataset]]\nname = "conll2003"', r"--batch-size must be positive"),
    ('colour = 1\n[[dataset]]\nname = "conll2003"', r"unknown key\(s\) colour"),
    ('name = "x"', r"\[\[dataset\]\] is empty"),
    ("[[dataset]\nname = 1", r"not valid TOML"),
])
def test_bad_suite_files_are_clear_errors(tmp_path, body, message):
    path = write(tmp_path, body)
    with pytest.raises(MtpfError, match=message) as info:
        load_suite(path)
    assert str(path) in str(info.value)


def test_unknown_suite_name():
    with pytest.raises(MtpfError, match="not a built-in suite \\(quick, standard, reproduction\\) nor a file"):
        load_suite("fast")
