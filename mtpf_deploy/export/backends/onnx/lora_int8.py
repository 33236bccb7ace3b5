"""Rewrite an exported backbone's LoRA products to int8: each slot's ``x A^T`` and ``(x A^T) B^T``
become ONNX Runtime ``DynamicQuantizeMatMul`` ops whose int8 weights and per-column scales are graph
inputs (``formats/lora_int8.py``), so adapters stay per-call inputs and use the int8 GEMM path."""
from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

from ....formats.lora_int8 import scale_name
from ....formats.lora_slots import Slot

MS_DOMAIN = "com.microsoft"


def consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    """Each value name -> the nodes that read it."""
    out: dict[str, list[onnx.NodeProto]] = {}
    for n in graph.node:
        for i in n.input:
            out.setdefault(i, []).append(n)
    return out


def _lora_matmul(graph: onnx.GraphProto, users_of: dict, name: str) -> tuple[onnx.NodeProto, onnx.NodeProto]:
    """The ``Transpose(name)`` node and the ``MatMul(x, Transpose(name))`` it feeds."""
    found = users_of.get(name, [])
    if len(found) != 1 or found[0].op_type != "Transpose":
        raise RuntimeError(f"slot input {name}: expected one Transpose consumer, found {[n.op_type for n in found]}")
    transpose = found[0]
    users = users_of.get(transpose.output[0], [])
    if len(users) != 1 or users[0].op_type != "MatMul" or users[0].input[1] != transpose.output[0]:
        raise RuntimeError(f"slot input {name}: expected MatMul(x, {name}^T), found {[n.op_type for n in users]}")
    return transpose, users[0]


def lora_to_int8(path: Path, slots: list[Slot]) -> None:
    """Rewrite the fp32 export at ``path`` in place (before slot defaults are added)."""
    model = onnx.load(str(path))
    graph = model.graph
    users = consumers(graph)
    inputs = {i.name: i for i in graph.input}
    drop: set[int] = set()
    replace: dict[int, onnx.NodeProto] = {}
    new_inputs = []
    for k, s in enumerate(slots):
        rank = f"rank_{k}"
        for name, shape in ((s.a_name, [s.in_features, rank]), (s.b_name, [rank, s.out_features])):
            transpose, matmul = _lora_matmul(graph, users, name)
            drop.add(id(transpose))
            replace[id(matmul)] = helper.make_node(
                "DynamicQuantizeMatMul", [matmul.input[0], name, scale_name(name)], list(matmul.output),
                name=f"{name}.int8_matmul", domain=MS_DOMAIN)
            new_inputs.append(helper.make_tensor_value_info(name, TensorProto.INT8, shape))
            new_inputs.append(helper.make_tensor_value_info(scale_name(name), TensorProto.FLOAT, [shape[1]]))
            del inputs[name]
    nodes = [replace.get(id(n), n) for n in graph.node if id(n) not in drop]
    del graph.node[:]
    graph.node.extend(nodes)
    kept = list(inputs.values())
    del graph.input[:]
    graph.input.extend(kept + new_inputs)
    if not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    onnx.save(model, str(path))


def share_quantized_inputs(path: Path) -> int:
    """After int8 quantization: let each LoRA-A product reuse the quantized input of the backbone
    MatMul beside it (``MatMulIntegerToFloat`` on the ``DynamicQuantizeLinear`` output) instead of
    quantizing the same activations again. Returns how many products were rewired."""
    model = onnx.load(str(path))
    graph = model.graph
    quantized = {n.input[0]: n for n in graph.node if n.op_type == "DynamicQuantizeLinear"}
    rewired = 0
    nodes = []
    for n in graph.node:
        dq = quantized.get(n.input[0]) if n.op_type == "DynamicQuantizeMatMul" and n.name.endswith(".lora_A.int8_matmul") else None
        if dq is not None:
            xq, x_scale, x_zero = dq.output
            n = helper.make_node("MatMulIntegerToFloat", [xq, n.input[1], x_scale, n.input[2], x_zero],
                                 list(n.output), name=n.name, domain=MS_DOMAIN)
            rewired += 1
        nodes.append(n)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(path))
    return rewired
