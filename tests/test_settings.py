"""Settings dataclasses are the one source of options: flags, TOML keys, aliases and choices."""
from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import fields

import pytest
from click.testing import CliRunner

from mtpf_deploy.cli import main
from mtpf_deploy.errors import MtpfError
from mtpf_deploy.export.config import ExportConfig
from mtpf_deploy.settings import flag_name
from mtpf_deploy.training.adapt.config import NerAdaptConfig, TcAdaptConfig
from mtpf_deploy.training.pretrain.config import PretrainConfig, PseudoLabelConfig

ALL = [PretrainConfig, PseudoLabelConfig, NerAdaptConfig, TcAdaptConfig, ExportConfig]
COMMANDS = {PretrainConfig: ["pretrain"], PseudoLabelConfig: ["pseudo-label"], NerAdaptConfig: ["adapt", "ner"],
            TcAdaptConfig: ["adapt", "tc"], ExportConfig: ["export"]}


@pytest.mark.parametrize("cls", ALL)
def test_every_field_has_help_and_a_flag(cls):
    help_text = CliRunner().invoke(main, [*COMMANDS[cls], "--help"], terminal_width=200).output
    for f in fields(cls):
        assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help text"
        assert f"--{flag_name(f)}" in help_text, f"--{flag_name(f)} missing from {COMMANDS[cls]} --help"


def test_toml_takes_flag_names_with_dash_or_underscore(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('loss = "gls"\ntask-sampling = "alternate"\nlora_r = 8\npairs = "stsb,mrpc"\npair-file = ["a.tsv"]\n')
    cfg = PretrainConfig.from_toml(toml, {"lora_r": 4})
    assert (cfg.loss, cfg.task_sampling, cfg.lora_r, cfg.pairs, cfg.pair_files) == \
        ("gls", "alternate", 4, ["stsb", "mrpc"], ["a.tsv"])  # the explicit flag (lora_r=4) wins


def test_unknown_and_bad_values_are_clear(tmp_path):
    with pytest.raises(MtpfError, match=r"unknown setting\(s\) stepz; valid: strategy, backbone"):
        PretrainConfig.from_dict({"stepz": 3})
    with pytest.raises(MtpfError, match="--loss must be one of sum, gls, fls, not 'mean'"):
        PretrainConfig.from_dict({"loss": "mean"})
    with pytest.raises(MtpfError, match="--lora-targets must be one of .*'pooler'"):
        NerAdaptConfig.from_dict({"lora-targets": "query,pooler"})
    with pytest.raises(MtpfError, match="steps: expected an integer, got 'many'"):
        PretrainConfig.from_dict({"steps": "many"})
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = [")
    with pytest.raises(MtpfError, match="bad.toml: not a readable TOML file"):
        PretrainConfig.from_toml(bad)


def test_same_meaning_same_name_with_old_spellings_as_aliases():
    for cls in (NerAdaptConfig, TcAdaptConfig):
        cfg = cls.from_dict({"r": 4, "alpha": 8, "lr": 0.1})
        assert (cfg.lora_r, cfg.lora_alpha, cfg.lora_lr) == (4, 8, 0.1)
    cfg = PretrainConfig.from_dict({"lr": 0.1, "loss_combination": "gls"})
    assert (cfg.backbone_lr, cfg.loss) == (0.1, "gls")
    names = {flag_name(f) for f in fields(PretrainConfig)} & {flag_name(f) for f in fields(NerAdaptConfig)}
    assert {"lora-r", "lora-alpha", "lora-lr", "lora-dropout", "lora-targets"} <= names


def test_pretrain_cli_config_file_error_lists_valid_keys(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("lossy = 1\n")
    res = CliRunner().invoke(main, ["pretrain", "--config", str(toml), "--out", str(tmp_path / "run")])
    assert res.exit_code == 1 and "unknown setting(s) lossy; valid:" in res.output and "Traceback" not in res.output


def test_importing_the_package_changes_no_global_state():
    code = """
import csv, logging, warnings, pkgutil, importlib
import torch, transformers, peft, onnx, onnxruntime, sklearn, tokenizers  # their own import-time set-up first
NAMES = ("", "torch", "torchao", "torch.utils._pytree", "transformers", "onnxscript")
before = (csv.field_size_limit(), {n: logging.getLogger(n).level for n in NAMES},
          list(warnings.filters))
import mtpf_deploy
for m in pkgutil.walk_packages(mtpf_deploy.__path__, "mtpf_deploy."):
    importlib.import_module(m.name)
after = (csv.field_size_limit(), {n: logging.getLogger(n).level for n in NAMES},
         list(warnings.filters))
assert before[0] == after[0], ("csv", before[0], after[0])
assert before[1] == after[1], (before[1], after[1])
ours = [f for f in after[2] if f not in before[2] and "gradient_checkpointing" in str(f[1])]
assert not ours, ours
print("ok")
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-2000:]
    assert logging.getLogger("torchao").level in (logging.NOTSET, logging.ERROR)  # (this process ran the CLI)


def test_declared_bounds_values_and_required_fields():
    """Ranges, renamed values and required fields live beside the fields and hold for every config."""
    from mtpf_deploy.bench.config import BenchConfig
    from mtpf_deploy.export.config import ExportConfig, PackConfig
    from mtpf_deploy.training.multitask.config import MultitaskConfig

    with pytest.raises(MtpfError, match=r"--dropout must be in \[0, 1\), got 1.0"):
        MultitaskConfig(dropout=1.0)
    with pytest.raises(MtpfError, match=r"--train-fraction must be in \(0, 1\], got 0"):
        NerAdaptConfig(train_fraction=0)
    assert NerAdaptConfig(train_fraction=1.0).train_fraction == 1.0
    cfg = ExportConfig.from_dict({"quantize": "none", "format": "both", "et_quantize": "int8"}, "flags")
    assert (cfg.precision, cfg.backends, cfg.et_precision) == ("fp32", ["onnx", "executorch"], "int8")
    with pytest.raises(MtpfError, match="--backend must be one of onnx, executorch, not 'tflite'"):
        ExportConfig.from_dict({"backend": ["tflite"]}, "flags")
    with pytest.raises(MtpfError, match="--bundle is required"):
        PackConfig.from_dict({"adapter": "a", "name": "n"}, "flags")
    with pytest.raises(MtpfError, match="--lengths: expected comma-separated integers, got 'a,b'"):
        BenchConfig.from_dict({"bundle": "b", "lengths": "a,b"}, "flags")
    assert BenchConfig.from_dict({"bundle": "b", "lengths": "16, 32"}, "flags").lengths == [16, 32]
    # a repeatable list flag keeps every repetition, each a comma list
    assert ExportConfig.from_dict({"adapters": ["a=x,b=y", "c=z"]}, "flags").adapters == ["a=x", "b=y", "c=z"]


def test_python_dash_m_runs_every_command():
    res = subprocess.run([sys.executable, "-m", "mtpf_deploy.cli", "bench", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "--no-baselines" in res.stdout, res.stderr[-800:]
