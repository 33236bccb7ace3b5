"""Bundle manifests are validated: schema, paths inside the folder, max length the graph accepts
(issue 14, case 7); ``inspect`` checks the backbone hash of a folder too."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from mtpf_deploy.cli import main
from mtpf_deploy.errors import BundleError, MtpfError
from mtpf_deploy.runtime import SystemModel


@pytest.fixture()
def copy(tiny_bundle, tmp_path):
    dst = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, dst)
    return dst


def edit(bundle, fn):
    path = bundle / "manifest.json"
    m = json.loads(path.read_text())
    as_list = fn(m) == "AS_LIST"
    path.write_text(json.dumps([m] if as_list else m))


@pytest.mark.parametrize("fn,fragment", [
    (lambda m: "AS_LIST", "manifest must be a JSON object, not list"),
    (lambda m: m["backbone"].pop("slots"), "field 'backbone.slots' is missing"),
    (lambda m: m["backbone"].pop("max_length"), "field 'backbone.max_length' is missing"),
    (lambda m: m["backbone"].pop("hidden_size"), "field 'backbone.hidden_size' is missing"),
    (lambda m: m["backbone"].update(max_length="512"), "field 'backbone.max_length' must be int"),
    (lambda m: m["backbone"].update(slots=[{"layer": 0}]), "field 'backbone.slots[0].in' is missing"),
    (lambda m: m.pop("tokenizer"), "field 'tokenizer' is missing"),
    (lambda m: m.update(adapters=["ner"]), "field 'adapters' must be an object"),
])
def test_malformed_manifests(copy, fn, fragment):
    edit(copy, fn)
    with pytest.raises(BundleError, match=None) as info:
        SystemModel.load(copy)
    assert fragment in str(info.value) and str(copy) in str(info.value)


def test_max_length_beyond_the_graph_fails_at_load(copy):
    edit(copy, lambda m: m["backbone"].update(max_length=10000))  # the tiny BERT has 128 positions
    with pytest.raises(BundleError, match="backbone.max_length 10000 is more than the backbone accepts"):
        SystemModel.load(copy)


def test_the_field_at_fault_is_named(copy):
    """Issue 21, item 9: a wrong hidden size is reported as one, a NUL byte in a path or a manifest nested
    100k deep is a BundleError, not a library's ValueError / RecursionError."""
    edit(copy, lambda m: m["backbone"].update(hidden_size=33))
    with pytest.raises(BundleError, match="backbone.hidden_size is 33, but the backbone's output is"):
        SystemModel.load(copy)
    edit(copy, lambda m: m["backbone"].update(hidden_size=32, file="backbone\0.onnx"))
    with pytest.raises(BundleError, match="must be a relative path inside the bundle"):
        SystemModel.load(copy)
    (copy / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BundleError, match="nested more than 64 levels deep"):
        SystemModel.load(copy)


@pytest.mark.parametrize("field", ["adapter", "backbone", "tokenizer"])
def test_paths_outside_the_bundle_are_refused(copy, field):
    evil = "../../../../etc/passwd"
    if field == "adapter":
        edit(copy, lambda m: m["adapters"].update(evil=evil))
        system = SystemModel.load(copy)
        with pytest.raises(BundleError, match="points outside the bundle folder"):
            system.load_adapter("evil")
    else:
        edit(copy, lambda m: m["backbone"].update(file=evil) if field == "backbone" else m.update(tokenizer=evil))
        with pytest.raises(BundleError, match="points outside the bundle folder"):
            SystemModel.load(copy)


def test_inspect_checks_the_backbone_of_a_folder(copy):
    runner = CliRunner()
    res = runner.invoke(main, ["inspect", str(copy)])
    assert res.exit_code == 0 and "matches the manifest's sha256" in res.output, res.output
    with open(copy / "backbone.onnx", "ab") as f:
        f.write(b"\0")
    res = runner.invoke(main, ["inspect", str(copy)])
    assert res.exit_code == 1 and "does not match" in res.output and "Traceback" not in res.output
    (copy / "backbone.onnx").unlink()
    res = runner.invoke(main, ["inspect", str(copy)])
    assert res.exit_code == 1 and "backbone file backbone.onnx is missing" in res.output, res.output


def test_bundle_errors_are_mtpf_errors(tmp_path):
    with pytest.raises(MtpfError, match="no manifest.json"):
        SystemModel.load(tmp_path)
