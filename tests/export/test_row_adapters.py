"""Mixed-adapter batches (issue 26): a row-adapter bundle (``export --row-adapters``: stacked LoRA inputs
picked per row, int8 with per-token activation scales) runs rows of different adapters in one pass, and
every row gets what it gets alone: several adapters of two tasks, rows with no adapter, different lengths,
long NER texts in windows; fp32 within 1e-5, int8 the same labels and entities, scores within 1e-3."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from mtpf_deploy.export.write_bundle import export_bundle
from mtpf_deploy.formats.lora_slots import ROWS_INPUT
from mtpf_deploy.runtime import SystemModel
from tests.runtime.crafting import craft

WORDS = "alice smith went to paris with bob and visited the london office of acme corp on monday".split()
TEXTS = [" ".join(WORDS[i % 7 : i % 7 + 2 + (i * 5) % 11]) * (1 + i % 3) for i in range(12)]
LONG = " ".join(WORDS * 9)  # more than one window of the tiny adapters


@pytest.fixture(scope="module")
def bundles(tiny_bert, tiny_adapters, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("row_adapters")
    quiet = lambda m: None  # noqa: E731
    for precision in ("fp32", "int8"):
        export_bundle(str(tiny_bert), tiny_adapters, tmp / precision, precision=precision, row_adapters=True, log=quiet)
    export_bundle(str(tiny_bert), tiny_adapters, tmp / "int8_per_tensor", precision="int8", log=quiet)
    return tmp


def load_with_variants(folder, tmp_path) -> SystemModel:
    """The bundle with its two adapters and two more of each task (the same files with the LoRA scaled)."""
    system = SystemModel.load(folder, threads=1)
    for task in ("ner", "tc"):
        src = folder / "adapters" / f"{task}.mtpfa"
        system.load_adapter(src)
        for k, factor in ((2, 0.5), (3, 1.7)):
            def rename(m, name=f"{task}{k}"):
                m["name"] = name

            def scale(t, factor=factor):
                for name in t:
                    if name.endswith("lora_B"):
                        t[name] = t[name] * factor

            system.load_adapter(craft(src, tmp_path / f"{task}{k}.mtpfa", manifest=rename, lora=scale))
    return system


def requests():
    return [(TEXTS[0:3], "ner"), (TEXTS[2:6], "tc2"), (TEXTS[1:2], None), ([LONG, TEXTS[7]], "ner3"),
            (TEXTS[5:9], "tc"), (TEXTS[8:12], "ner2"), ([""], "tc3"), (TEXTS[3:5], None)]


def same(mixed, alone, tolerance):
    if isinstance(alone, np.ndarray):
        assert np.abs(mixed - alone).max() <= tolerance
        return
    for m, a in zip(mixed, alone):
        if isinstance(a, list):  # entities of a text
            assert [(e.label, e.start, e.end) for e in m] == [(e.label, e.start, e.end) for e in a]
            assert all(abs(x.score - y.score) <= tolerance for x, y in zip(m, a))
        else:
            assert m.label == a.label and max(abs(m.probabilities[k] - a.probabilities[k]) for k in a.probabilities) <= tolerance


@pytest.mark.parametrize("precision,tolerance", [("fp32", 1e-5), ("int8", 1e-3)])
def test_every_row_of_a_mixed_batch_equals_its_single_run(bundles, tmp_path, precision, tolerance):
    system = load_with_variants(bundles / precision, tmp_path)
    assert system.engine.row_adapters and not system.engine.rows_share_quantization
    mixed = system.run_mixed(requests())
    for (inputs, adapter), result in zip(requests(), mixed):
        same(result, system.embed(inputs) if adapter is None else system.predict(inputs, adapter), tolerance)
    # the adapters do act: a scaled LoRA changes the result
    assert system.classify(TEXTS[2:6], "tc2") != system.classify(TEXTS[2:6], "tc3")


def test_one_pass_serves_rows_of_different_adapters(bundles, tmp_path):
    """The engine level: one session run for rows of 4 adapters and no adapter, each row equal to its own run."""
    system = load_with_variants(bundles / "int8", tmp_path)
    names = ["ner", None, "tc2", "ner3", "tc"]
    rows = [system.tokenizer.encode(t).ids for t in TEXTS[:5]]
    calls = []
    session = system.engine.session()
    real = session.run
    session.run = lambda out, feed, *a: calls.append(feed) or real(out, feed, *a)  # type: ignore[method-assign]
    try:
        hidden, mask = system.run_rows(rows, names)
    finally:
        session.run = real  # type: ignore[method-assign]
    # one run, fed the pool of loaded adapters as it is (no copy per call): entry 0 is no adapter
    order = [None] + list(system.adapters)
    assert len(calls) == 1 and list(calls[0][ROWS_INPUT]) == [order.index(n) for n in names]
    bank = system.engine._bank[0]
    assert all(calls[0][k] is v for k, v in bank.items())
    for i, (row, name) in enumerate(zip(rows, names)):
        alone, _ = system.run_ids([row], name)
        np.testing.assert_array_equal(hidden[i, : len(row)], alone[0])
    n = len(rows[0])
    assert np.abs(hidden[0, :n] - system.run_ids([rows[0]], "ner3")[0][0, :n]).max() > 1e-3  # adapters differ


def test_the_adapter_pool_follows_loads_and_unloads(bundles, tmp_path):
    system = load_with_variants(bundles / "fp32", tmp_path)
    rows = [system.tokenizer.encode(t).ids for t in TEXTS[:3]]
    before, _ = system.run_rows(rows, ["ner", "tc", "ner3"])
    system.unload_adapter("ner")  # the pool shrinks; the others keep their numbers
    assert len(system.engine._bank[2]) == len(system.adapters) == 5
    after, _ = system.run_rows(rows[1:], ["tc", "ner3"])
    np.testing.assert_allclose(after, before[1:, : after.shape[1]], atol=1e-6)
    again, _ = system.run_rows(rows, ["ner", "tc", "ner3"])  # a bundle adapter's name loads it again: back in the pool
    assert len(system.engine._bank[2]) == 6
    np.testing.assert_allclose(again, before, atol=1e-6)


def test_per_token_int8_results_do_not_depend_on_the_batch(bundles):
    """Control and fix: per-tensor int8 must run rows one by one; per-token int8 batches them and still
    gives each text the numbers of its single call."""
    per_tensor = SystemModel.load(bundles / "int8_per_tensor")
    per_token = SystemModel.load(bundles / "int8")
    assert per_tensor.engine.rows_share_quantization and not per_token.engine.rows_share_quantization
    alone = np.stack([per_token.embed(t) for t in TEXTS])
    np.testing.assert_array_equal(per_token.embed(TEXTS, batch_size=12), alone)
    ops = {n.op_type for n in onnx.load(str(bundles / "int8" / "backbone.onnx")).graph.node}
    assert "DynamicQuantizeLinear" not in ops and "MatMulInteger" in ops
    assert per_token.backbone["activation_scales"] == "per-token" and per_token.backbone["lora_precision"] == "fp32"


def test_a_merged_adapter_and_a_plain_bundle_still_mix_correctly(bundles, tmp_path):
    """Rows whose adapter cannot join the stacked pass (merged into a session of its own; a bundle without
    row adapters) run one adapter at a time, with the same results."""
    system = load_with_variants(bundles / "fp32", tmp_path)
    system.load_adapter(bundles / "fp32" / "adapters" / "ner.mtpfa", name="ner_merged", merge=True)
    reqs = [(TEXTS[:3], "ner_merged"), (TEXTS[:3], "ner2"), (TEXTS[3:4], None)]
    for (inputs, adapter), result in zip(reqs, system.run_mixed(reqs)):
        same(result, system.embed(inputs) if adapter is None else system.predict(inputs, adapter), 1e-5)
    plain = SystemModel.load(bundles / "int8_per_tensor")
    plain.load_adapter(bundles / "int8_per_tensor" / "adapters" / "ner.mtpfa")
    plain.load_adapter(bundles / "int8_per_tensor" / "adapters" / "tc.mtpfa")
    reqs = [(TEXTS[:3], "ner"), (TEXTS[2:5], "tc"), (TEXTS[3:4], None)]
    for (inputs, adapter), result in zip(reqs, plain.run_mixed(reqs)):
        same(result, plain.embed(inputs) if adapter is None else plain.predict(inputs, adapter), 0.0)
