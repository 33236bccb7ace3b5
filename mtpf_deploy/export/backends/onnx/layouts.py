"""Slot layouts: graphs of the exported backbone with LoRA slots only where a kind of adapter lives.

Each layout graph is cut from the full graph (every slot), not exported again: a slot it does not keep
loses its LoRA products and its add, so the base projection feeds what the add fed. Its initializers
are the full graph's, byte for byte, and the large ones are stored as ONNX external data that points
at the bytes holding the same tensor inside ``backbone.onnx``: a layout adds a few kilobytes to the
bundle, not a second copy of the weights, and any ONNX Runtime opens it from the bundle folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from ....formats.lora_int8 import scale_name
from ....formats.lora_slots import Slot
from .lora_int8 import consumers

EXTERNAL_MIN_BYTES = 1024  # smaller tensors stay inside the layout graph


def _lora_add(uses: dict[str, list[onnx.NodeProto]], slot: Slot) -> tuple[onnx.NodeProto, str]:
    """The ``Add(base, lora)`` that adds ``slot``'s LoRA product to its base projection, and the name
    of its base input."""
    node, frontier = None, [slot.b_name]  # B -> [Gather (row adapters)] -> [Transpose] -> the LoRA product
    while frontier and node is None:
        users = [n for v in frontier for n in uses.get(v, []) if n.op_type != "Shape"]
        node = next((n for n in users if n.op_type not in ("Gather", "GatherND", "Transpose")), None)
        frontier = [n.output[0] for n in users if n.op_type in ("Gather", "GatherND", "Transpose")]
    adds = [] if node is None else [n for n in uses.get(node.output[0], []) if n.op_type == "Add"]
    if len(adds) != 1:
        raise RuntimeError(f"slot {slot.b_name}: cannot find the add of its LoRA product")
    add = adds[0]
    return add, add.input[1] if add.input[0] == node.output[0] else add.input[0]


def cut_slots(model: onnx.ModelProto, slots: list[Slot], keep: set[str]) -> onnx.ModelProto:
    """``model`` with the slots not in ``keep`` (slot A-input names) removed; dead nodes, inputs and
    initializers dropped."""
    graph = model.graph
    uses = consumers(graph)
    rename: dict[str, str] = {}
    for s in slots:
        if s.a_name in keep:
            continue
        add, base = _lora_add(uses, s)
        rename[add.output[0]] = base
    for n in graph.node:
        for k, name in enumerate(n.input):
            while name in rename:
                name = rename[name]
            n.input[k] = name
    needed = {o.name for o in graph.output}
    kept = []
    for n in reversed(graph.node):  # nodes are topologically sorted: walk back from the outputs
        if any(o in needed for o in n.output):
            kept.append(n)
            needed.update(i for i in n.input if i)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    inputs = [i for i in graph.input if i.name in needed]
    del graph.input[:]
    graph.input.extend(inputs)
    initializers = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    return model


def slot_names(slots: list[Slot], int8_lora: bool) -> list[str]:
    """The graph inputs of ``slots`` (A, B and, for int8 LoRA, their scales)."""
    names = [n for s in slots for n in (s.a_name, s.b_name)]
    return names + [scale_name(n) for n in names] if int8_lora else names


def point_at_full_graph(model: onnx.ModelProto, full: Path) -> int:
    """Store each large initializer as external data at the bytes of ``full`` (a file beside the layout
    graph) that hold the same tensor. Returns how many bytes now live in ``full`` only."""
    content = full.read_bytes()
    moved, at = 0, 0
    for t in model.graph.initializer:
        raw = t.raw_data
        if len(raw) < EXTERNAL_MIN_BYTES:
            continue
        offset = content.find(raw, at)
        if offset < 0:
            offset = content.find(raw)
        if offset < 0:
            continue  # not found (cannot happen for a graph cut from ``full``): the tensor stays inline
        at = offset + len(raw)
        t.ClearField("raw_data")
        t.data_location = onnx.TensorProto.EXTERNAL
        del t.external_data[:]
        for key, value in (("location", full.name), ("offset", str(offset)), ("length", str(len(raw)))):
            entry = t.external_data.add()
            entry.key, entry.value = key, value
        moved += len(raw)
    return moved


def write_layout(full: Path, out: Path, slots: list[Slot], keep: set[str]) -> int:
    """Cut the layout keeping ``keep`` from the full graph ``full``; write it to ``out`` (same folder).
    Returns the bytes it shares with ``full``."""
    model = cut_slots(onnx.load(str(full)), slots, keep)
    shared = point_at_full_graph(model, full)
    onnx.save(model, str(out))
    onnx.checker.check_model(str(out))
    return shared


MATMULS = ("MatMulInteger", "MatMul")


def slot_weights(model: onnx.ModelProto, slots: list[Slot]) -> dict[str, dict]:
    """Each slot's base weight in the graph: ``{a_name: {"weight": W, "scale": its per-column scale
    (int8) or None (fp32)}}``, W stored [in, out]. Found by walking back from the slot's LoRA add to the
    MatMul of its base projection (bias add, dequantizing Mul and Cast in between); what the runtime
    needs to fold an adapter into the weights (``runtime/engines/onnx.py``)."""
    graph = model.graph
    uses = consumers(graph)
    producer = {o: n for n in graph.node for o in n.output}
    initializers = {t.name for t in graph.initializer}
    out: dict[str, dict] = {}
    for s in slots:
        _, base = _lora_add(uses, s)
        node = _nearest_matmul(producer[base], producer, initializers)
        if node is None:
            raise RuntimeError(f"slot {s.a_name}: cannot find its base weight")
        weight = node.input[1]
        entry = {"weight": weight, "scale": None}
        if node.op_type == "MatMulInteger":
            entry["scale"] = weight.removesuffix("_quantized") + "_scale"
            zero_point = node.input[3] if len(node.input) > 3 else ""
            if entry["scale"] not in initializers or not zero_point or np.any(numpy_helper.to_array(
                    next(t for t in graph.initializer if t.name == zero_point))):
                raise RuntimeError(f"slot {s.a_name}: {weight} is not symmetric per-column int8 with a scale")
        out[s.a_name] = entry
    return out


def _nearest_matmul(start: onnx.NodeProto, producer: dict, initializers: set[str], depth: int = 4):
    """The MatMul with an initializer weight nearest above ``start`` (breadth first, ``depth`` steps)."""
    frontier = [start]
    for _ in range(depth + 1):
        for node in frontier:
            if node.op_type in MATMULS and node.input[1] in initializers:
                return node
        frontier = [producer[i] for n in frontier for i in n.input if i in producer]
    return None


def locate_tensors(model: onnx.ModelProto, names: set[str], full: Path) -> dict[str, dict]:
    """Where each named initializer's bytes lie in the file ``full`` (the graph ``model`` was saved as):
    ``{name: {"offset", "length", "dtype", "shape"}}`` — so that the torch- and onnx-free runtime can
    read them with numpy."""
    content = full.read_bytes()
    out = {}
    for t in model.graph.initializer:
        if t.name not in names:
            continue
        array = numpy_helper.to_array(t)
        raw = array.tobytes()
        offset = content.find(raw)
        if offset < 0:  # any match holds the same values
            raise RuntimeError(f"{t.name}: cannot locate its bytes in {full.name}")
        out[t.name] = {"offset": offset, "length": len(raw), "dtype": str(array.dtype), "shape": list(array.shape)}
    return out
