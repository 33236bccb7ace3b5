"""``pack`` vouches only for what it can check (issue 22): a PEFT folder is packed when its base model
resolves on this machine to the bundle's backbone weights, or when the user says --assume-backbone; the
adapter's lineage records which, and the parent adapter's digest."""
from __future__ import annotations

import hashlib
import json
import shutil

from click.testing import CliRunner

from mtpf_deploy.cli import main
from mtpf_deploy.formats.adapter_file import read_adapter_file


def peft_folder(tiny_adapters, tmp_path, base_model: str | None):
    """The tiny NER adapter's LoRA as a plain PEFT folder (no task.json) naming ``base_model``."""
    folder = tmp_path / "peft"
    folder.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy(tiny_adapters["ner"] / name, folder / name)
    config = json.loads((folder / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = base_model
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder


def pack(bundle, folder, out, *extra):
    return CliRunner().invoke(main, ["pack", "--bundle", str(bundle), "--adapter", str(folder), "--name", "peft",
                                     "--out", str(out), *extra])


def test_a_peft_folder_is_packed_when_its_base_model_is_the_backbone(tiny_bundle, tiny_bert, tiny_adapters, tmp_path):
    res = pack(tiny_bundle, peft_folder(tiny_adapters, tmp_path, str(tiny_bert)), tmp_path / "a.mtpfa")
    assert res.exit_code == 0 and "backbone binding: base-model-checked" in res.output, res.output
    assert read_adapter_file(tmp_path / "a.mtpfa").lineage["backbone_binding"] == "base-model-checked"
    res = CliRunner().invoke(main, ["inspect", str(tmp_path / "a.mtpfa")])
    assert "backbone binding base-model-checked" in res.output and "parent none" in res.output, res.output


def test_a_peft_folder_trained_on_other_weights_is_refused(tiny_bundle, tiny_bert, tiny_adapters, tmp_path):
    other = tmp_path / "other-model"
    shutil.copytree(tiny_bert, other)
    with open(other / "model.safetensors", "ab") as f:  # other weights: another hash
        f.write(b" ")
    folder = peft_folder(tiny_adapters, tmp_path, str(other))
    for extra in ((), ("--assume-backbone",)):  # what can be checked and is wrong is refused even when assumed
        res = pack(tiny_bundle, folder, tmp_path / "b.mtpfa", *extra)
        assert res.exit_code == 1 and "not on this backbone" in res.output and "Traceback" not in res.output, res.output
        assert not (tmp_path / "b.mtpfa").exists()


def test_an_unprovable_backbone_needs_assume_backbone(tiny_bundle, tiny_adapters, tmp_path):
    for i, base in enumerate(("some-org/never-downloaded-model", None)):
        shutil.rmtree(tmp_path / "peft", ignore_errors=True)
        folder, out = peft_folder(tiny_adapters, tmp_path, base), tmp_path / f"c{i}.mtpfa"
        res = pack(tiny_bundle, folder, out)
        assert res.exit_code == 1 and "--assume-backbone" in res.output and "cannot check" in res.output, res.output
        assert not out.exists()
        res = pack(tiny_bundle, folder, out, "--assume-backbone")
        assert res.exit_code == 0 and "nothing checked" in res.output, res.output
        assert read_adapter_file(out).lineage["backbone_binding"] == "assumed"


def test_our_adapter_folder_records_trained_on_and_its_parent(tiny_bundle, tiny_adapters, tmp_path):
    parent = tiny_bundle / "adapters/ner.mtpfa"
    res = pack(tiny_bundle, tiny_adapters["ner"], tmp_path / "d.mtpfa", "--parent", str(parent))
    assert res.exit_code == 0, res.output
    lineage = read_adapter_file(tmp_path / "d.mtpfa").lineage
    assert lineage["backbone_binding"] == "trained-on"
    assert lineage["parent_sha256"] == hashlib.sha256(parent.read_bytes()).hexdigest()
    assert lineage["tool"].startswith("mtpf-deploy ")
    res = pack(tiny_bundle, tiny_adapters["ner"], tmp_path / "e.mtpfa", "--parent", str(tmp_path / "nope.mtpfa"))
    assert res.exit_code == 1 and "nope.mtpfa" in res.output and "Traceback" not in res.output


def test_packing_twice_gives_the_same_bytes(tiny_bundle, tiny_adapters, tmp_path):
    """Same input, same file (fixed ZIP timestamps): a signature of one pack verifies the next."""
    for name in ("f1.mtpfa", "f2.mtpfa"):
        assert pack(tiny_bundle, tiny_adapters["ner"], tmp_path / name).exit_code == 0
    assert (tmp_path / "f1.mtpfa").read_bytes() == (tmp_path / "f2.mtpfa").read_bytes()
