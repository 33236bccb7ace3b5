"""The adapter card (issue 23): filled from PEFT's README, metrics.json, a card file and flags (later wins),
kept in the .mtpfa manifest, schema-validated as untrusted input, shown by ``inspect`` and ``inspect --json``."""
from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from click.testing import CliRunner

from mtpf_deploy.cli import main
from mtpf_deploy.errors import AdapterError
from mtpf_deploy.formats.adapter_file import read_adapter_file
from mtpf_deploy.formats.card import metrics_summary
from tests.runtime.crafting import craft

README = """---
license: cc-by-4.0
base_model: sentence-transformers/all-MiniLM-L6-v2
datasets:
- conll2003
library_name: peft
---

# People and places

Tags persons and locations in short English texts.
"""


def pack(bundle, folder, out, *extra):
    return CliRunner().invoke(main, ["pack", "--bundle", str(bundle), "--adapter", str(folder), "--name", "tagger",
                                     "--out", str(out), *extra])


@pytest.fixture()
def folder(tiny_adapters, tmp_path):
    folder = tmp_path / "ner"
    shutil.copytree(tiny_adapters["ner"], folder)
    (folder / "README.md").write_text(README)
    return folder


def test_the_card_is_filled_from_readme_metrics_card_file_and_flags(tiny_bundle, folder, tmp_path):
    (tmp_path / "card.toml").write_text('version = "0.9"\nauthor = "Example Ltd"\nlicense = "apache-2.0"\n'
                                        'description = "from the card file"\n')
    res = pack(tiny_bundle, folder, tmp_path / "a.mtpfa", "--card", str(tmp_path / "card.toml"),
               "--card-version", "1.0.0")
    assert res.exit_code == 0, res.output
    card = read_adapter_file(tmp_path / "a.mtpfa").manifest["card"]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert card["version"] == "1.0.0"  # the flag over the card file
    assert card["author"] == "Example Ltd" and card["license"] == "apache-2.0"  # the card file over the README
    assert card["description"] == "from the card file"
    assert card["base_backbone"] == "sentence-transformers/all-MiniLM-L6-v2" and card["training_data"] == "conll2003"
    assert card["readme"].startswith("# People and places") and "Tags persons" in card["readme"]
    assert card["metrics"]["test.f1"] == metrics["test"]["f1"] and "joint_loss" not in str(card["metrics"])


def test_inspect_shows_the_card_and_json_has_everything(tiny_bundle, folder, tmp_path):
    assert pack(tiny_bundle, folder, tmp_path / "a.mtpfa", "--description", "people & places").exit_code == 0
    text = CliRunner().invoke(main, ["inspect", str(tmp_path / "a.mtpfa")])
    assert text.exit_code == 0 and "description: people & places" in text.output and "license: cc-by-4.0" in text.output
    res = CliRunner().invoke(main, ["inspect", "--json", "--bundle", str(tiny_bundle), str(tmp_path / "a.mtpfa")])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["kind"] == "adapter" and info["card"]["description"] == "people & places"
    assert info["sha256"] == hashlib.sha256((tmp_path / "a.mtpfa").read_bytes()).hexdigest()
    assert info["lineage"]["backbone_binding"] == "trained-on" and info["signature"] is None
    assert info["fits_bundle"]["fits"] is True and info["manifest"]["task"] == "ner"
    bundle = json.loads(CliRunner().invoke(main, ["inspect", "--json", str(tiny_bundle)]).output)
    assert bundle["kind"] == "bundle" and bundle["files_verified"] and set(bundle["adapters"]) == {"ner", "tc"}


@pytest.mark.parametrize("card, message", [
    ({"description": "\x1b[31mred"}, r"'card.description' holds the control or formatting character '\\x1b'"),
    ({"author": "a\nb"}, r"'card.author' holds the control or formatting character '\\n'"),
    ({"license": "x" * 200}, "'card.license' has 200 characters; at most 128"),
    ({"homepage": "x"}, r"unknown entries \['homepage'\]"),
    ({"metrics": {"f1": "high"}}, "'card.metrics.f1' must be a finite number"),
    ({"metrics": {"f1": 1e400}}, "must be a finite number|not valid JSON"),
    ({"version": 1}, "'card.version' must be a string"),
    ([], "'card' must be an object"),
])
def test_a_bad_card_is_refused_by_field(tiny_bundle, tmp_path, card, message):
    bad = craft(tiny_bundle / "adapters/ner.mtpfa", tmp_path / "bad.mtpfa", manifest=lambda m: m.update(card=card))
    with pytest.raises(AdapterError, match=message):
        read_adapter_file(bad)
    res = CliRunner().invoke(main, ["inspect", str(bad)])
    assert res.exit_code == 1 and "Traceback" not in res.output


def test_bad_card_sources_fail_before_anything_is_written(tiny_bundle, folder, tmp_path):
    (tmp_path / "card.json").write_text('{"version": "1", "colour": "red"}')
    res = pack(tiny_bundle, folder, tmp_path / "a.mtpfa", "--card", str(tmp_path / "card.json"))
    assert res.exit_code == 1 and "unknown entries ['colour']" in res.output and "card.json" in res.output
    (tmp_path / "card.toml").write_text("version = ")
    res = pack(tiny_bundle, folder, tmp_path / "a.mtpfa", "--card", str(tmp_path / "card.toml"))
    assert res.exit_code == 1 and "not valid TOML" in res.output
    res = pack(tiny_bundle, folder, tmp_path / "a.mtpfa", "--description", "bell\a")
    assert res.exit_code == 1 and "card.description" in res.output
    assert not (tmp_path / "a.mtpfa").exists()


def test_metrics_summary_keeps_numbers_two_levels_deep():
    metrics = {"train_sentences": 300, "joint_loss": [0.5, 0.4], "dev": {"f1": 0.9, "per_type": {"PER": {"f1": 1}}},
               "test": {"accuracy": 0.8, "nested": {"deep": {"x": 1}}}, "ok": True, "nan": float("nan")}
    assert metrics_summary(metrics) == {"train_sentences": 300, "dev.f1": 0.9, "test.accuracy": 0.8}
