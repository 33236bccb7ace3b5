"""Backbone -> ONNX with LoRA slots (``torch.onnx.export(dynamo=True)``), int8 quantization, and the
empty rank-0 slot defaults (ONNX Runtime's multi-LoRA convention)."""
from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch.export import Dim

from ....formats.bundle import INPUTS, OUTPUTS
from ....formats.lora_int8 import empty_feed, quantize_columns
from ....formats.lora_slots import ROWS_INPUT, Slot
from ....logs import quiet_loggers
from ...config import FFN_OUT
from ...slotted import load_slotted
from .lora_int8 import consumers


def export_onnx(backbone_dir: str | Path, out: Path, opset: int = 18, example_rank: int = 4,
                slotted: bool = True, row_adapters: bool = False) -> list[Slot]:
    """Export fp32 ONNX: inputs ``input_ids``, ``attention_mask`` [batch, sequence] and each slot's
    A [rank, in] / B [out, rank] (rank dynamic per slot); output ``last_hidden_state``.
    ``row_adapters``: A [adapters, rank, in] / B [adapters, out, rank], a stack of LoRAs, and an input
    ``lora_rows`` [batch] saying which of them each row uses. ``slotted=False``: the plain encoder."""
    model, slots = load_slotted(backbone_dir, slotted, row_adapters)
    vocab = model.bert.config.vocab_size
    ids = torch.randint(1000 if vocab > 2000 else 5, min(vocab, 2000), (2, 9))
    mask = torch.ones_like(ids)
    g = torch.Generator().manual_seed(0)
    lora, lora_dims = [], []
    batch, seq = Dim("batch"), Dim("sequence", max=model.bert.config.max_position_embeddings)
    stack, adapters = ((3,), Dim("adapters", min=1, max=4096)) if row_adapters else ((), None)
    for i, s in enumerate(slots):
        lora += [torch.randn(*stack, example_rank, s.in_features, generator=g) * 0.01,
                 torch.randn(*stack, s.out_features, example_rank, generator=g) * 0.01]
        rank = Dim(f"rank_{i}", min=0, max=4096)
        lora_dims += [{0: adapters, 1: rank}, {0: adapters, 2: rank}] if row_adapters else [{0: rank}, {1: rank}]
    if row_adapters:
        lora.append(torch.tensor([0, 2]))
        lora_dims.append({0: batch})
    names = INPUTS + [n for s in slots for n in (s.a_name, s.b_name)] + ([ROWS_INPUT] if row_adapters else [])
    with warnings.catch_warnings(), quiet_loggers():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model, (ids, mask, *lora), dynamo=True, input_names=names, output_names=OUTPUTS,
            dynamic_shapes=({0: batch, 1: seq}, {0: batch, 1: seq}, *((tuple(lora_dims),) if slots else ())),
            opset_version=opset, verbose=False,
        )
    program.save(str(out))
    return slots


def quantize_int8(src: Path, dst: Path, op_types: tuple[str, ...] = ("MatMul", "Gather"),
                  keep_fp32: tuple[str, ...] = (), embeddings: str = "per-tensor") -> None:
    """Dynamic int8, per-channel weights, on the backbone's MatMuls and embedding Gathers.

    Runs before slot defaults exist: the LoRA MatMuls then have no initializer weight and stay float.
    ``keep_fp32=("ffn_out",)`` leaves the MLP down-projections in fp32 (see benchmarks/int8_variants.py);
    ``embeddings``: ``per-tensor`` (ONNX Runtime's quantizer: one scale per table, the default), ``per-row``
    (one scale per table row) or ``fp16`` (``compress_embedding_tables``)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    exclude: list[str] = []
    if FFN_OUT in keep_fp32:
        model = onnx.load(str(src), load_external_data=False)
        shapes = {i.name: tuple(i.dims) for i in model.graph.initializer}
        weights = {n.name: shapes[n.input[1]] for n in model.graph.node
                   if n.op_type == "MatMul" and len(shapes.get(n.input[1], ())) == 2}
        wide = max((s[0] for s in weights.values()), default=0)  # the intermediate size: [intermediate, hidden]
        exclude = [name for name, shape in weights.items() if shape[0] == wide]

    # the quantizer warns about pre-processing via the root logger, and keeps its scratch files in the
    # default temp folder: point that into dst's folder (the bundle's own temporary folder), so a killed
    # export leaves nothing that the next export does not remove
    with quiet_loggers(root=True), _temp_folder(dst.parent):
        quantize_dynamic(str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=[op for op in op_types if op != "Gather" or embeddings == "per-tensor"],
                         nodes_to_exclude=exclude)
    if "Gather" in op_types and embeddings in ("per-row", "fp16"):
        compress_embedding_tables(dst, fp16=embeddings == "fp16")


def compress_embedding_tables(path: Path, fp16: bool = False) -> int:
    """int8 embedding tables with one scale per row (a token's vector), where ONNX Runtime's quantizer
    gives the whole table one scale: ``Gather(T, ids)`` becomes ``Cast(Gather(T_q, ids)) *
    Gather(scale, ids)[..., None]``. The same bytes (plus a float per row), and each token keeps the
    precision of its own largest value. ``fp16``: the tables in float16 instead, ``Cast(Gather(T16,
    ids))`` (twice the bytes of int8; docs/evaluation.md: int8 on sets that can resolve it).
    Returns how many Gathers it rewrote."""
    model = onnx.load(str(path))
    graph = model.graph
    tables = {t.name: t for t in graph.initializer if len(t.dims) == 2 and t.data_type == onnx.TensorProto.FLOAT}
    uses = consumers(graph)
    nodes, rewritten, drop = [], 0, set()
    axes = numpy_helper.from_array(np.array([-1], np.int64), "per_row_gather.unsqueeze_axes")
    for n in graph.node:
        axis = next((a.i for a in n.attribute if a.name == "axis"), 0)
        if n.op_type != "Gather" or n.input[0] not in tables or axis != 0:
            nodes.append(n)
            continue
        name, ids, out = n.input[0], n.input[1], n.output[0]
        table = numpy_helper.to_array(tables[name]).astype(np.float32)
        rewritten += 1
        if len(uses[name]) == 1:
            drop.add(name)
        if fp16:
            graph.initializer.append(numpy_helper.from_array(table.astype(np.float16), f"{name}.fp16"))
            nodes += [helper.make_node("Gather", [f"{name}.fp16", ids], [f"{out}.fp16"], name=f"{n.name}.fp16"),
                      helper.make_node("Cast", [f"{out}.fp16"], [out], to=onnx.TensorProto.FLOAT, name=f"{n.name}.cast")]
            continue
        q, scale = quantize_columns(table.T)  # rows of the table = columns of its transpose
        q = np.ascontiguousarray(q.T)
        graph.initializer.extend([numpy_helper.from_array(q, f"{name}.int8_rows"),
                                  numpy_helper.from_array(scale, f"{name}.row_scale")])
        nodes += [helper.make_node("Gather", [f"{name}.int8_rows", ids], [f"{out}.int8"], name=f"{n.name}.int8_rows"),
                  helper.make_node("Cast", [f"{out}.int8"], [f"{out}.float"], to=onnx.TensorProto.FLOAT,
                                   name=f"{n.name}.cast"),
                  helper.make_node("Gather", [f"{name}.row_scale", ids], [f"{out}.scale"], name=f"{n.name}.row_scale"),
                  helper.make_node("Unsqueeze", [f"{out}.scale", axes.name], [f"{out}.scale_1"], name=f"{n.name}.unsqueeze"),
                  helper.make_node("Mul", [f"{out}.float", f"{out}.scale_1"], [out], name=f"{n.name}.dequantize")]
    if not rewritten:
        return 0
    if not fp16:
        graph.initializer.append(axes)
    kept = [t for t in graph.initializer if t.name not in drop]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(path))
    return rewritten


@contextmanager
def _temp_folder(folder: Path) -> Iterator[None]:
    """``tempfile``'s default folder is ``folder`` inside the block."""
    saved = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved


def strip_stack_traces(model: onnx.ModelProto) -> None:
    """Drop the Python stack trace torch.onnx records on each node: it names files on the exporting
    machine (absolute paths), which a shipped bundle should not carry."""
    for node in model.graph.node:
        kept = [p for p in node.metadata_props if p.key != "pkg.torch.onnx.stack_trace"]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)


def add_slot_defaults(path: Path, slots: list[Slot]) -> None:
    """Give every slot input an empty rank-0 initializer, so the model runs unchanged with no adapter
    (int8 slots of ``lora_to_int8`` get int8 factors and their scales)."""
    model = onnx.load(str(path))
    types = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
    ranks = {i.name: len(i.type.tensor_type.shape.dim) for i in model.graph.input}
    for s in slots:
        for name in (s.a_name, s.b_name):
            if name not in types:
                raise RuntimeError(f"exported graph lacks slot input {name}")
        if types[s.a_name] == onnx.TensorProto.INT8:
            defaults = empty_feed(s)
        elif ranks[s.a_name] == 3:  # stacked slots: one LoRA of zeros, rank 1 (ONNX Runtime 1.31's FusedMatMul
            # gives garbage for batched inputs with an empty inner dimension, so a row-adapter graph never gets rank 0)
            defaults = {s.a_name: np.zeros((1, 1, s.in_features), np.float32),
                        s.b_name: np.zeros((1, s.out_features, 1), np.float32)}
        else:
            defaults = {s.a_name: np.zeros((0, s.in_features), np.float32),
                        s.b_name: np.zeros((s.out_features, 0), np.float32)}
        model.graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in defaults.items())
    strip_stack_traces(model)
    onnx.save(model, str(path))
    onnx.checker.check_model(str(path))
