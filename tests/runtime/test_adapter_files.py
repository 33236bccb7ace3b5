"""Adapter files are untrusted: every malformed or hostile file is refused at load with an
``AdapterError`` naming the file and the field (issue 14, cases 1-6)."""
from __future__ import annotations

import resource
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from mtpf_deploy.cli import main
from mtpf_deploy.errors import AdapterError
from mtpf_deploy.runtime import SystemModel
from tests.runtime.crafting import HEAD, LORA, MANIFEST, craft, members, write_zip


@pytest.fixture(scope="module")
def system(tiny_bundle):
    return SystemModel.load(tiny_bundle, threads=1)


@pytest.fixture(scope="module")
def ner(tiny_bundle):
    return tiny_bundle / "adapters/ner.mtpfa"


@pytest.fixture(scope="module")
def tc(tiny_bundle):
    return tiny_bundle / "adapters/tc.mtpfa"


def refused(system, path, *fragments):
    with pytest.raises(AdapterError) as info:
        system.load_adapter(path)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


# 1. LoRA member contents are checked against the backbone's slots
def test_lora_tensor_for_a_slot_the_backbone_lacks(system, ner, tmp_path):
    def add(t):
        t["layer.9.query.lora_A"], t["layer.9.query.lora_B"] = t["layer.0.query.lora_A"], t["layer.0.query.lora_B"]
    message = refused(system, craft(ner, tmp_path / "a.mtpfa", lora=add), "is not a LoRA slot of this backbone")
    assert "'layer.9.query.lora_A'" in message or "'layer.9.query.lora_B'" in message


def test_lora_wrong_in_dim_rank_and_unpaired(system, ner, tmp_path):
    def narrow(t):
        t["layer.0.query.lora_A"] = t["layer.0.query.lora_A"][:, :31].copy()
    refused(system, craft(ner, tmp_path / "in.mtpfa", lora=narrow), "layer.0.query.lora_A has shape [4, 31]")

    def rank(t):
        t["layer.0.query.lora_A"] = t["layer.0.query.lora_A"][:3].copy()
    refused(system, craft(ner, tmp_path / "r.mtpfa", lora=rank), "rank 4 (lora.rank)")
    refused(system, craft(ner, tmp_path / "ab.mtpfa", lora=lambda t: t.pop("layer.1.key.lora_B")),
            "layer.1.key.lora_A has no matching layer.1.key.lora_B")


def test_lora_tensor_named_like_a_graph_input(system, ner, tmp_path):
    def sneak(t):
        t["input_ids"] = np.zeros((1, 4), np.float32)
    refused(system, craft(ner, tmp_path / "x.mtpfa", lora=sneak), "field 'lora.slots'")
    # listed in the manifest or not, a tensor the manifest does not list is refused
    refused(system, craft(ner, tmp_path / "y.mtpfa", lora=sneak, manifest=lambda m: m["lora"]["slots"].remove("input_ids")),
            "lora.safetensors holds tensors")


def test_lora_dtype_is_float32(system, ner, tmp_path):
    def f64(t):
        t["layer.0.query.lora_A"] = t["layer.0.query.lora_A"].astype(np.float64)
    refused(system, craft(ner, tmp_path / "d.mtpfa", lora=f64), "'layer.0.query.lora_A' is float64, must be float32")


# 2. Non-finite weights
@pytest.mark.parametrize("where,value", [("head.weight", np.nan), ("head.bias", np.inf), ("lora", np.nan)])
def test_non_finite_tensors_are_refused(system, ner, tc, tmp_path, where, value):
    if where == "lora":
        def poison(t):
            t["layer.1.output.lora_B"][0, 0] = value
        path = craft(ner, tmp_path / "n.mtpfa", lora=poison)
    else:
        key = where.split(".")[1]

        def poison(t):
            t[key].flat[1] = value
        path = craft(tc if key == "bias" else ner, tmp_path / "n.mtpfa", head=poison)
    refused(system, path, "holds NaN or infinite values")


# 3. Members are fixed by the format
def test_missing_lora_member_with_its_manifest_entry(system, ner, tmp_path):
    path = craft(ner, tmp_path / "m.mtpfa", drop=(LORA,))
    refused(system, path, "must hold ['head.safetensors', 'lora.safetensors']", "holds ['head.safetensors']")


def test_duplicate_and_unexpected_members(system, ner, tmp_path):
    parts = members(ner)
    dup = write_zip(tmp_path / "dup.mtpfa", [(MANIFEST, parts[MANIFEST]), *parts.items()])
    refused(system, dup, "member manifest.json appears twice")
    extra = write_zip(tmp_path / "extra.mtpfa", [*parts.items(), ("../../evil.sh", b"#!/bin/sh")])
    refused(system, extra, "unexpected member '../../evil.sh'")


def test_member_hash_mismatch(system, ner, tmp_path):
    def flip(t):
        t["weight"].flat[0] += 1.0
    refused(system, craft(ner, tmp_path / "h.mtpfa", head=flip, rehash=False), "member head.safetensors does not match")


# 4. Zip bombs
def test_deflated_member_is_refused_before_it_is_inflated(system, ner, tmp_path):
    parts = members(ner)
    bomb = tmp_path / "bomb.mtpfa"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(MANIFEST, parts[MANIFEST])
        z.writestr(HEAD, b"\0" * (200 << 20))  # 200 MiB of zeros: about 200 KB deflated
    assert bomb.stat().st_size < 1 << 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    refused(system, bomb, "member manifest.json is compressed")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 << 10  # KiB: nothing inflated


def test_member_claiming_more_bytes_than_the_file(system, ner, tmp_path):
    data = bytearray(ner.read_bytes())
    with zipfile.ZipFile(ner) as z:
        info = z.getinfo(HEAD)
    for pos in range(len(data) - 46):
        if data[pos:pos + 4] == b"PK\x01\x02" and data[pos + 46:pos + 46 + len(HEAD)] == HEAD.encode():
            data[pos + 20:pos + 24] = (1 << 30).to_bytes(4, "little")  # compressed size
            data[pos + 24:pos + 28] = (1 << 30).to_bytes(4, "little")  # uncompressed size
    (tmp_path / "big.mtpfa").write_bytes(bytes(data))
    assert info.file_size < 1 << 30
    refused(system, tmp_path / "big.mtpfa", "head.safetensors")


# 5. Manifest schema
@pytest.mark.parametrize("edit,fragment", [
    (lambda m: m.update(labels=[0, 1, 2]), "field 'labels' must be a list of non-empty strings"),
    (lambda m: m.update(labels=m["labels"][:-1] + [m["labels"][0]]), "field 'labels' has duplicates"),
    (lambda m: m.update(max_length=0), "field 'max_length' must be in 3..65536, not 0"),
    (lambda m: m.update(max_length=2), "field 'max_length' must be in 3..65536, not 2"),
    (lambda m: m.update(max_length=-5), "field 'max_length' must be in 3..65536, not -5"),
    (lambda m: m.update(max_length="128"), "field 'max_length' must be int, not str"),
    (lambda m: m.update(backbone={}), "field 'backbone': field 'weights_sha256' is missing"),
    (lambda m: m.update(lora=None), "with lora=null must hold ['head.safetensors'], it holds"),
    (lambda m: m.update(task="translate"), "field 'task' must be one of ['ner', 'tc', 'pair-tc', 'sts', 'lora']"),
    (lambda m: m.update(normalize="yes"), "field 'normalize' must be bool"),
    (lambda m: m.update(name="../evil"), "field 'name': '../evil' must be 1-64 letters"),
    (lambda m: m.update(extra_field=1), "unknown field(s) ['extra_field']"),
    (lambda m: m.pop("labels"), "field 'labels' is missing"),
    (lambda m: m["lora"].update(rank=0), "field 'lora.rank' must be positive"),
    (lambda m: m["lora"].update(scaling_folded_into_B=False), "'lora.scaling_folded_into_B' must be true"),
])
def test_manifest_schema(system, ner, tmp_path, edit, fragment):
    refused(system, craft(ner, tmp_path / "s.mtpfa", manifest=edit), fragment)


def test_manifest_not_an_object_or_duplicate_keys(system, ner, tmp_path):
    parts = members(ner)
    for i, raw in enumerate([b"[1, 2]", b'{"format": "mtpf-adapter", "format": "x"}', b"\xff\xfe", b"{"]):
        path = write_zip(tmp_path / f"m{i}.mtpfa", [(MANIFEST, raw), *[(n, d) for n, d in parts.items() if n != MANIFEST]])
        refused(system, path, "manifest.json")


def test_head_shape_must_match_labels(system, tc, tmp_path):
    def short_bias(t):
        t["bias"] = t["bias"][:2].copy()
    refused(system, craft(tc, tmp_path / "b.mtpfa", head=short_bias), "head.safetensors: weight", "bias [2]")


# 6. Names
def test_two_adapters_cannot_share_a_name(tiny_bundle, ner, tc, tmp_path):
    system = SystemModel.load(tiny_bundle, threads=1)
    system.load_adapter(ner)
    system.load_adapter(ner)  # the same file again is fine
    other = craft(tc, tmp_path / "other.mtpfa", manifest=lambda m: m.update(name="ner"))
    with pytest.raises(AdapterError, match="adapter name 'ner' is already in use"):
        system.load_adapter(other)
    system.load_adapter(other, name="ner2")
    system.unload_adapter("ner")
    assert system.load_adapter(other).name == "ner"
    with pytest.raises(AdapterError, match="'../x' must be 1-64 letters"):
        system.load_adapter(other, name="../x")


def test_pack_refuses_a_bad_name(tiny_bundle, tiny_adapters, tmp_path):
    pytest.importorskip("onnx", reason="pack is part of the export install")
    res = CliRunner().invoke(main, ["pack", "--bundle", str(tiny_bundle), "--adapter", str(tiny_adapters["ner"]),
                                    "--name", "../evil x", "--out", str(tmp_path / "e.mtpfa")])
    assert res.exit_code == 1 and "'../evil x' must be 1-64 letters" in res.output and "Traceback" not in res.output
    assert not list(tmp_path.iterdir())


# issue 21: finite means finite; labels checked for their task
def test_huge_values_are_refused_at_load_never_nan_on_a_call(system, ner, tc, tmp_path, monkeypatch):
    def scale(by):
        def edit(t):
            for k in t:
                t[k] = (t[k] * by).astype(np.float32)
        return edit
    refused(system, craft(tc, tmp_path / "h.mtpfa", head=scale(3e38 / 4)), "holds a value of magnitude")
    refused(system, craft(ner, tmp_path / "l.mtpfa", lora=scale(1e9)), "must be at most 1e+06")
    # values the bound would let through but that overflow this backbone: the load-time probe refuses them
    from mtpf_deploy.formats import adapter_file

    monkeypatch.setattr(adapter_file, "MAX_ABS_VALUE", 1e38)
    refused(system, craft(ner, tmp_path / "q.mtpfa", lora=scale(1e12), manifest=lambda m: m.update(name="big2")),
            "gives non-finite outputs on probe texts")
    assert "big2" not in system.adapters


def test_non_finite_outputs_fail_the_call_instead_of_printing_nan(system, tiny_bundle, monkeypatch):
    from mtpf_deploy.runtime.results import NonFiniteOutput

    tc = system.load_adapter("tc")
    monkeypatch.setattr(tc, "weight", np.full_like(tc.weight, np.float32(3e38)))
    with pytest.raises(NonFiniteOutput, match="adapter 'tc' gives non-finite values"):
        system.classify("pizza and pasta", tc)


@pytest.mark.parametrize("labels,message", [
    (["O", "person", "place"], "must be IOB2 tags"),
    (["O", "S-PER", "B-PER"], "'S-PER' is not"),
    (["O", "B-PER"], "PER lacks one"),
])
def test_ner_labels_must_be_iob2_pairs(system, ner, tmp_path, labels, message):
    def relabel(m):
        m["labels"] = labels
    def resize(t):
        t["weight"], t["bias"] = t["weight"][: len(labels)].copy(), t["bias"][: len(labels)].copy()
    refused(system, craft(ner, tmp_path / "n.mtpfa", manifest=relabel, head=resize), message)


def test_a_classifier_needs_two_classes(system, tc, tmp_path):
    def one(t):
        t["weight"], t["bias"] = t["weight"][:1].copy(), t["bias"][:1].copy()
    refused(system, craft(tc, tmp_path / "one.mtpfa", manifest=lambda m: m.update(labels=m["labels"][:1]), head=one),
            "needs at least 2 classes, it has 1")


@pytest.mark.parametrize("edit,message", [
    (lambda m: m.update(version=2.0), "format version 2.0 is not supported"),
    (lambda m: m["lora"].update(parameters=-5), "'lora.parameters' must be >= 0"),
    (lambda m: m["lora"].update(parameters=7), "'lora.parameters' is 7, the LoRA holds"),
    (lambda m: m.update(labels=["O", "B-\u202eNOSREP", "I-\u202eNOSREP"]), "holds a control or formatting character"),
])
def test_manifest_values_that_mean_nothing_are_refused(system, ner, tmp_path, edit, message):
    refused(system, craft(ner, tmp_path / "m.mtpfa", manifest=edit), message)


def test_non_standard_or_deep_json_is_refused(system, ner, tmp_path):
    parts = members(ner)
    for i, raw in enumerate([parts[MANIFEST].replace(b'"normalize": false', b'"normalize": NaN'),
                             b"[" * 100_000 + b"]" * 100_000]):
        path = write_zip(tmp_path / f"j{i}.mtpfa", [(MANIFEST, raw), *[(n, d) for n, d in parts.items() if n != MANIFEST]])
        refused(system, path, "manifest.json is not valid JSON")


def test_adapters_that_change_nothing(system, ner, tc, tmp_path):
    """Loaded by default (a deliberate no-op is allowed); ``inspect`` warns and ``strict`` refuses."""
    def zero_b(t):
        for k in t:
            if k.endswith("lora_B"):
                t[k] = np.zeros_like(t[k])
    path = craft(ner, tmp_path / "zero.mtpfa", lora=zero_b, manifest=lambda m: m.update(name="zero"))
    assert system.load_adapter(path).name == "zero"
    with pytest.raises(AdapterError, match="changes nothing: its LoRA is zero in every slot"):
        system.load_adapter(path, strict=True)
    res = CliRunner().invoke(main, ["inspect", str(path)])
    assert res.exit_code == 0 and "warning: this adapter changes nothing: its LoRA is zero" in res.output

    def constant(t):
        t["weight"] = np.repeat(t["weight"][:1], len(t["weight"]), 0)
        t["bias"] = np.full_like(t["bias"], t["bias"][0])
    flat = craft(tc, tmp_path / "flat.mtpfa", head=constant, manifest=lambda m: m.update(name="flat"))
    with pytest.raises(AdapterError, match="every label's head row is the same"):
        system.load_adapter(flat, strict=True)
    assert "warning" not in CliRunner().invoke(main, ["inspect", str(tc)]).output  # a real adapter: no warning


def test_an_unloaded_adapter_object_is_refused(tiny_bundle):
    from mtpf_deploy.errors import InputError

    system = SystemModel.load(tiny_bundle, threads=1)
    ner = system.load_adapter("ner")
    system.unload_adapter("ner")
    with pytest.raises(InputError, match="adapter 'ner' was unloaded"):
        system.entities("alice smith", ner)


def test_label_count_and_result_size_are_bounded(system, tc, tmp_path):
    from mtpf_deploy.runtime.tasks.classification import MAX_PROBABILITIES

    n = MAX_PROBABILITIES + 50
    def many(t):
        rng = np.random.default_rng(0)
        t["weight"] = rng.normal(0, 1, (n, t["weight"].shape[1])).astype(np.float32)
        t["bias"] = np.zeros(n, np.float32)
    path = craft(tc, tmp_path / "many.mtpfa", head=many,
                 manifest=lambda m: m.update(name="many", labels=[f"l{i}" for i in range(n)]))
    result = system.classify(["pizza and pasta", "a goal"], system.load_adapter(path))
    for r in result:
        assert len(r.probabilities) == MAX_PROBABILITIES and next(iter(r.probabilities)) == r.label
        assert list(r.probabilities.values()) == sorted(r.probabilities.values(), reverse=True)
    refused(system, craft(tc, tmp_path / "toomany.mtpfa", manifest=lambda m: m.update(labels=[f"l{i}" for i in range(10_001)])),
            "more than 10000 entries")
