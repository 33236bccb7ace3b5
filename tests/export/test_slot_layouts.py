"""Slot layouts (issue 25): graphs with LoRA slots only where a kind of adapter lives, cut from the full
graph and sharing its weights. An adapter runs on the smallest layout holding its slots and gets the
same numbers as on the full graph; a layout graph holds no copy of the weights; a bad layout entry or
a replaced layout file is refused."""
from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from mtpf_deploy.errors import BundleError
from mtpf_deploy.export.backends.onnx.layouts import EXTERNAL_MIN_BYTES
from mtpf_deploy.export.write_bundle import export_bundle
from mtpf_deploy.formats.lora_slots import SLOT_LAYOUTS, Slot, layout_slots, smallest_layout
from mtpf_deploy.runtime import SystemModel
from mtpf_deploy.runtime.engines.onnx import FULL
from tests.conftest import vocabulary
from tests.tiny_bert import make_tiny_bert


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """A 3-layer tiny BERT (so the tc layout, the last 2 layers, differs from ner's all layers) exported
    int8 and fp32, with the default layouts and with the full graph only."""
    tmp = tmp_path_factory.mktemp("layouts")
    bert = make_tiny_bert(tmp / "bert", vocabulary(), layers=3, seed=1)
    quiet = lambda m: None  # noqa: E731
    for precision in ("int8", "fp32"):
        export_bundle(str(bert), {}, tmp / precision, precision=precision, log=quiet)
        export_bundle(str(bert), {}, tmp / f"{precision}_full", precision=precision, slot_layouts=[], log=quiet)
    return tmp


def random_lora(slots: list[Slot], rank: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for s in slots:
        out[s.a_name] = rng.normal(0, 0.3, (rank, s.in_features)).astype(np.float32)
        out[s.b_name] = rng.normal(0, 0.3, (s.out_features, rank)).astype(np.float32)
    return out


def test_layout_table_and_choice():
    slots = [Slot(i, f, 8, 8) for i in range(3) for f in ("query", "key", "value", "attn_out", "intermediate", "output")]
    tc, ner = layout_slots("tc", slots), layout_slots("ner", slots)
    assert {s.layer for s in tc} == {1, 2} and {s.family for s in tc} == {"query", "key", "intermediate", "output"}
    assert len(ner) == 12 and layout_slots("none", slots) == []
    layouts = {name: {s.a_name for s in layout_slots(name, slots)} for name in SLOT_LAYOUTS}
    assert smallest_layout(set(), layouts) == "none"
    assert smallest_layout({"layer.2.query.lora_A"}, layouts) == "tc"
    assert smallest_layout({"layer.0.query.lora_A"}, layouts) == "ner"
    assert smallest_layout({"layer.2.value.lora_A"}, layouts) is None


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_each_adapter_runs_on_its_smallest_layout_with_the_full_graphs_numbers(bundles, precision):
    system, full = SystemModel.load(bundles / precision), SystemModel.load(bundles / f"{precision}_full")
    slots = full.engine.slots
    assert set(system.backbone["layouts"]) == set(SLOT_LAYOUTS) and "layouts" not in full.backbone or not full.backbone["layouts"]
    rows = [[system.cls_id, *range(5, 25), system.sep_id]]
    ids, mask = np.array(rows), np.ones((1, len(rows[0])), np.int64)
    cases = {"none": {}, "tc": random_lora(layout_slots("tc", slots)), "ner": random_lora(layout_slots("ner", slots)),
             FULL: random_lora([s for s in slots if s.family == "value"])}
    for layout, lora in cases.items():
        mine, theirs = system.engine.prepare(lora, "test"), full.engine.prepare(lora, "test")
        assert mine.layout == layout and theirs.layout == FULL
        a, b = system.engine.run(ids, mask, mine), full.engine.run(ids, mask, theirs)
        np.testing.assert_allclose(a, b, atol=1e-6, err_msg=layout)
        if lora:  # the LoRA does act
            assert np.abs(a - full.engine.run(ids, mask, full.engine.no_adapter)).max() > 1e-2
    assert set(system.engine.sessions) == set(cases)


def test_layout_graphs_share_the_weights_of_backbone_onnx(bundles):
    folder = bundles / "int8"
    manifest = json.loads((folder / "manifest.json").read_text())
    full = {t.name: t for t in onnx.load(str(folder / "backbone.onnx")).graph.initializer}
    content = (folder / "backbone.onnx").read_bytes()
    for name, layout in manifest["backbone"]["layouts"].items():
        path = folder / layout["file"]
        external = 0
        for t in onnx.load(str(path), load_external_data=False).graph.initializer:
            assert t.name in full
            if len(full[t.name].raw_data) < EXTERNAL_MIN_BYTES:
                continue
            where = {e.key: e.value for e in t.external_data}
            assert t.data_location == onnx.TensorProto.EXTERNAL and where["location"] == "backbone.onnx", t.name
            start, length = int(where["offset"]), int(where["length"])
            assert content[start:start + length] == full[t.name].raw_data
            external += 1
        assert external > 5, name
        # any ONNX Runtime opens it from the bundle folder (its external data is backbone.onnx)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        fed = {i.name for i in session.get_inputs() + session.get_overridable_initializers()}  # slot inputs have defaults
        assert {n for n in fed if n.endswith(".lora_A")} == set(layout["slots"])


def test_a_layout_naming_an_unknown_slot_is_refused(bundles, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(bundles / "int8", bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["backbone"]["layouts"]["tc"]["slots"].append("layer.9.query.lora_A")
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"backbone\.layouts\.tc\.slots.*layer\.9\.query"):
        SystemModel.load(bad)


def test_a_replaced_layout_file_is_refused_when_its_session_opens(bundles, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(bundles / "int8", bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    shutil.copy(bad / manifest["backbone"]["layouts"]["none"]["file"], bad / manifest["backbone"]["layouts"]["ner"]["file"])
    system = SystemModel.load(bad)  # the ner layout is not opened yet
    with pytest.raises(BundleError, match="does not match the sha256"):
        system.engine.prepare(random_lora(layout_slots("ner", system.engine.slots)), "test")


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_a_merged_adapter_gives_the_slot_numbers_without_slot_inputs(bundles, precision):
    system = SystemModel.load(bundles / precision)
    lora = random_lora(layout_slots("ner", system.engine.slots), seed=3)
    rows = [[system.cls_id, *range(5, 30), system.sep_id]]
    ids, mask = np.array(rows), np.ones((1, len(rows[0])), np.int64)
    slot, merged = system.engine.prepare(lora, "test"), system.engine.merge(lora, "test")
    assert merged.feed == {} and not any(i.name.endswith(".lora_A") for i in merged.session.get_inputs())
    a, b = system.engine.run(ids, mask, slot), system.engine.run(ids, mask, merged)
    plain = system.engine.run(ids, mask, system.engine.no_adapter)
    if precision == "fp32":  # the same sums in another order
        np.testing.assert_allclose(b, a, atol=1e-4)
    else:  # int8: the merged weights are quantized again, the slot path quantizes its products
        cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        assert cos.min() > 0.99
    assert np.abs(b - plain).max() > 1e-2  # the adapter does act


def test_load_adapter_merge_gives_the_same_entities(tiny_bundle):
    system = SystemModel.load(tiny_bundle)
    slot, merged = system.load_adapter("ner"), system.load_adapter("ner", name="ner_merged", merge=True)
    assert merged.feed.session is not None and slot.feed.session is None
    texts = ["alpha beta gamma delta", "epsilon zeta eta theta iota kappa"]
    got, want = system.entities(texts, "ner_merged"), system.entities(texts, "ner")
    assert [[(e.label, e.start, e.end) for e in t] for t in got] == [[(e.label, e.start, e.end) for e in t] for t in want]
    assert any(want) and all(abs(x.score - y.score) < 1e-5 for g, w in zip(got, want) for x, y in zip(g, w))
    rows = [[system.cls_id, *range(5, 20), system.sep_id]]
    np.testing.assert_allclose(system.run_ids(rows, "ner_merged")[0], system.run_ids(rows, "ner")[0], atol=1e-4)


def test_merge_needs_the_weight_places_and_refuses_bad_ones(bundles, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(bundles / "fp32", bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    lora = random_lora(layout_slots("ner", [Slot.from_json(s) for s in manifest["backbone"]["slots"]]))
    entry = manifest["backbone"]["slot_weights"]["layer.0.query.lora_A"]["weight"]
    offset = entry["offset"]
    entry["offset"] = (bad / "backbone.onnx").stat().st_size - 4
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="lies past the end of the file"):
        SystemModel.load(bad).engine.merge(lora, "adapter x")
    entry["offset"] = offset
    wide = manifest["backbone"]["slot_weights"]["layer.0.intermediate.lora_A"]["weight"]
    saved = dict(wide)
    wide["shape"] = wide["shape"][::-1]  # a valid place, the wrong shape ([out, in])
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"gives layer\.0\.intermediate\.lora_A a weight of shape"):
        SystemModel.load(bad).engine.merge(lora, "adapter x")
    wide.update(saved)
    entry["dtype"] = "float64"
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="not a valid tensor place"):
        SystemModel.load(bad).engine.merge(lora, "adapter x")
    del manifest["backbone"]["slot_weights"]
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="cannot merge adapter x: the bundle does not say where the weights"):
        SystemModel.load(bad).engine.merge(lora, "adapter x")


def test_layouts_off_runs_everything_on_the_full_graph(bundles):
    system = SystemModel.load(bundles / "int8", layouts=False)
    lora = random_lora(layout_slots("ner", system.engine.slots))
    assert system.engine.prepare(lora, "test").layout == FULL and system.engine.no_adapter.layout == FULL
    assert set(system.engine.sessions) == {FULL}
    merged = system.engine.merge(lora, "test")  # merging still uses the slot-less graph
    assert not any(i.name.endswith(".lora_A") for i in merged.session.get_inputs())
