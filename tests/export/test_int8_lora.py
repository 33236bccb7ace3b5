"""int8 LoRA slots and ONNX Runtime fusions in the exported graph (issue 9): the graph has the fused
ops, the LoRA products are int8 and agree with fp32 LoRA, and the adapter-free default is exact and
deterministic (ONNX Runtime leaves a rank-0 int8 product unwritten; the defaults are rank 1)."""
from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest

from mtpf_deploy.export.write_bundle import export_bundle
from mtpf_deploy.formats.lora_int8 import empty_feed, int8_feed, quantize_columns, scale_name
from mtpf_deploy.formats.lora_slots import Slot
from mtpf_deploy.runtime import SystemModel


def test_quantize_columns_matches_a_reference():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.1, (64, 8)).astype(np.float32)
    w[:, 3] = 0.0
    q, scale = quantize_columns(w)
    assert q.dtype == np.int8 and scale.shape == (8,) and scale[3] == 0 and not q[:, 3].any()
    ref_scale = np.abs(w).max(0) / 127
    np.testing.assert_allclose(scale, ref_scale, rtol=1e-6)
    assert np.abs(q * scale - w).max() <= scale.max() / 2 + 1e-7
    assert np.abs(q).max() == 127


def test_int8_feed_transposes_and_skips_unused_slots():
    slots = [Slot(0, "query", 6, 6), Slot(0, "key", 6, 6)]
    a, b = np.ones((2, 6), np.float32), np.full((6, 2), 0.5, np.float32)
    feed = int8_feed({slots[0].a_name: a, slots[0].b_name: b}, slots)
    assert set(feed) == {slots[0].a_name, scale_name(slots[0].a_name), slots[0].b_name, scale_name(slots[0].b_name)}
    assert feed[slots[0].a_name].shape == (6, 2) and feed[slots[0].b_name].shape == (2, 6)
    np.testing.assert_allclose(feed[slots[0].b_name] * feed[scale_name(slots[0].b_name)], b.T)
    assert empty_feed(slots[1])[slots[1].a_name].shape == (6, 1)


@pytest.fixture(scope="module")
def bundles(tiny_bert, tiny_adapters, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("int8_lora")
    quiet = lambda m: None  # noqa: E731
    export_bundle(str(tiny_bert), tiny_adapters, tmp / "int8", quantize="int8", log=quiet)
    export_bundle(str(tiny_bert), {}, tmp / "per_row", quantize="int8", int8_embeddings="per-row", log=quiet)
    export_bundle(str(tiny_bert), tiny_adapters, tmp / "int8_fp32_lora", quantize="int8", int8_lora=False, log=quiet)
    export_bundle(str(tiny_bert), tiny_adapters, tmp / "unfused", quantize="none", fuse=False, log=quiet)
    return tmp


def test_graph_is_fused_and_lora_is_int8(bundles):
    system = SystemModel.load(bundles / "int8")
    bb = system.backbone
    assert bb["lora_precision"] == "int8"
    layers = bb["num_layers"]
    assert bb["fusions"]["multi_head_attention"] == layers and bb["fusions"]["gelu"] == layers
    ops = Counter(n.op_type for n in onnx.load(str(bundles / "int8" / "backbone.onnx")).graph.node)
    assert ops["MultiHeadAttention"] == layers and ops["Gelu"] == layers and ops["Erf"] == 0
    slots = len(bb["slots"])
    assert bb["fusions"]["lora_shared_input_quantization"] == slots  # every LoRA-A reuses the quantized input
    inputs = {i.name: i.type.tensor_type.elem_type for i in onnx.load(str(bundles / "int8" / "backbone.onnx")).graph.input}
    assert inputs[bb["slots"][0]["a"]] == onnx.TensorProto.INT8
    unfused = SystemModel.load(bundles / "unfused").backbone
    assert unfused["fusions"] == {} and unfused["lora_precision"] == "fp32"


def test_int8_lora_agrees_with_fp32_lora_on_the_same_int8_backbone(bundles):
    int8, ref = SystemModel.load(bundles / "int8"), SystemModel.load(bundles / "int8_fp32_lora")
    rows = [[int8.cls_id, *range(5, 25), int8.sep_id], [int8.cls_id, *range(30, 40), int8.sep_id]]
    a, mask = int8.run_ids(rows, "ner")
    b, _ = ref.run_ids(rows, "ner")
    plain, _ = ref.run_ids(rows)
    keep = mask.astype(bool)
    cos = lambda x, y: (x * y).sum(-1) / np.linalg.norm(x, axis=-1) / np.linalg.norm(y, axis=-1)  # noqa: E731
    assert cos(a[keep], b[keep]).mean() > 0.995
    # the LoRA does change the output, and the int8 one reproduces that change
    delta_ref, delta = (b - plain)[keep], (a - plain)[keep]
    assert np.abs(delta_ref).max() > 1e-2 and cos(delta.ravel()[None], delta_ref.ravel()[None])[0] > 0.9


def test_no_adapter_default_is_deterministic_and_matches_the_fp32_lora_graph(bundles):
    int8, ref = SystemModel.load(bundles / "int8"), SystemModel.load(bundles / "int8_fp32_lora")
    rows = [[int8.cls_id, *range(5, 45), int8.sep_id]]
    first, _ = int8.run_ids(rows)
    int8.run_ids(rows, "ner")  # fills ONNX Runtime's arena with adapter results
    int8.run_ids(rows, "tc")
    again, _ = int8.run_ids(rows)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first, ref.run_ids(rows)[0], atol=1e-5)


def test_embedding_tables_per_table_per_row_or_fp16(bundles, tiny_bert):
    """The default int8 export keeps ONNX Runtime's one scale per embedding table (chosen by data:
    docs/evaluation.md); ``--int8-embeddings per-row`` gathers int8 rows with one scale each, within
    half a step of each row's scale of the tiny BERT's own embeddings; ``fp16`` stores the tables in
    float16."""
    from onnx import numpy_helper
    from safetensors.numpy import load_file

    default = SystemModel.load(bundles / "int8").backbone
    names = {t.name for t in onnx.load(str(bundles / "int8" / "backbone.onnx")).graph.initializer}
    assert default["int8_options"] == {} and any(n.endswith("word_embeddings.weight_quantized") for n in names)
    assert not any(n.endswith(".int8_rows") for n in names)
    assert SystemModel.load(bundles / "per_row").backbone["int8_options"] == {"embeddings": "per-row"}
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(bundles / "per_row" / "backbone.onnx")).graph.initializer}
    rows = [n for n in inits if n.endswith(".int8_rows")]
    assert any("word_embeddings" in n for n in rows) and not any(n.endswith("word_embeddings.weight_quantized") for n in inits)
    name = next(n for n in rows if "word_embeddings" in n)
    q, scale = inits[name], inits[name.replace(".int8_rows", ".row_scale")]
    assert q.dtype == np.int8 and scale.shape == (q.shape[0],) and len(np.unique(scale)) > 1
    weights = load_file(str(tiny_bert / "model.safetensors"))
    table = next(v for k, v in weights.items() if k.endswith("word_embeddings.weight"))
    assert (np.abs(q * scale[:, None] - table).max(axis=1) <= scale / 2 + 1e-6).all()
    # float16 tables: the int8 backbone's outputs move by no more than fp16's rounding of the embeddings
    export_bundle(str(tiny_bert), {}, bundles / "fp16", quantize="int8", int8_embeddings="fp16", log=lambda m: None)
    fp16 = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(bundles / "fp16" / "backbone.onnx")).graph.initializer}
    half = next(v for k, v in fp16.items() if k.endswith("word_embeddings.weight.fp16"))
    assert half.dtype == np.float16 and np.abs(half.astype(np.float32) - table).max() < 1e-3
    rows_in = [[1, *range(5, 25), 2]]
    for other in ("fp16", "per_row"):
        a, b = SystemModel.load(bundles / other).run_ids(rows_in)[0], SystemModel.load(bundles / "int8").run_ids(rows_in)[0]
        cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        assert cos.min() > 0.99, other
