"""Batch-independent activation scales for an int8 graph. Per token: each ``DynamicQuantizeLinear`` (one scale and zero point
over the whole input tensor, i.e. over every row and padded position of a batch) becomes a quantization
with one scale per token (``absmax / 127``, zero point 128 in uint8). A token's numbers then depend on that
token alone: results are the same whatever else is in the batch and however much padding it has, which is
what batching rows of different callers together (``SystemModel.run_mixed``, ``serve``) needs. Static: each
``DynamicQuantizeLinear`` becomes a ``QuantizeLinear`` with a fixed scale and zero point calibrated on texts
(``calibrate_ranges``, ``static_activations``): batch-independent too, with no per-call range ops."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .lora_int8 import consumers

ZERO_POINT = 128  # uint8 zero point: the int8 range [-127, 127] shifted, so ONNX Runtime's u8s8 GEMM runs
LEVELS = 127.0
TINY = 1e-12  # a token of zeros keeps a finite scale


def _width(users: list[onnx.NodeProto], graph: onnx.GraphProto) -> int:
    """The inner size of the MatMulIntegers' input: their weights' first dimension."""
    shapes = {t.name: list(t.dims) for t in graph.initializer}
    widths = {shapes[u.input[1]][0] for u in users if u.input[1] in shapes}
    if len(widths) != 1:
        raise RuntimeError(f"cannot tell the width of the activations feeding {[u.name for u in users]}")
    return widths.pop()


def per_token_activations(path: Path) -> int:
    """Rewrite every ``DynamicQuantizeLinear`` of ``path`` in place; returns how many. Raises when a
    quantized activation feeds an op that takes only one scale (ONNX Runtime's fused int8 ops)."""
    model = onnx.load(str(path))
    graph = model.graph
    uses = consumers(graph)
    consts = {"per_token.axes": np.array([-1], np.int64), "per_token.tiny": np.array(TINY, np.float32),
              "per_token.levels": np.array(LEVELS, np.float32),
              "per_token.shift": np.array(float(ZERO_POINT), np.float32),
              "per_token.one": np.array(1.0, np.float32), "per_token.flat": np.array([-1], np.int64),
              "per_token.zero_point": np.array([ZERO_POINT], np.uint8)}
    after: dict[str, onnx.NodeProto] = {}  # a dequantizing Mul -> the per-token Mul that follows it
    nodes, rewritten = [], 0
    for n in graph.node:
        if n.op_type != "DynamicQuantizeLinear":
            nodes.append(n)
            continue
        x, (q, scale, zero_point) = n.input[0], n.output
        p = f"{n.name}.per_token"
        for user in uses.get(q, []):
            if user.op_type != "MatMulInteger":
                raise RuntimeError(f"{path.name}: {n.name} feeds {user.op_type} {user.name}; per-token scales need "
                                   "MatMulInteger")
        # ONNX Runtime's quantizer dequantizes with Mul(Cast(MatMulInteger), Mul(x_scale, w_scale)); ONNX Runtime
        # fuses that into ops taking one x_scale, so x_scale becomes 1 there and a Mul by the token scales follows
        for combine in uses.get(scale, []):
            dequantizers = uses.get(combine.output[0], [])
            if combine.op_type != "Mul" or not dequantizers or any(d.op_type != "Mul" for d in dequantizers):
                raise RuntimeError(f"{path.name}: the scale of {n.name} is not used as Mul(Cast(MatMulInteger), "
                                   "Mul(x_scale, w_scale))")
            combine.input[list(combine.input).index(scale)] = "per_token.one"
            for d in dequantizers:
                out = d.output[0]
                d.output[0] = f"{out}.per_column"
                after[d.name] = helper.make_node("Mul", [d.output[0], f"{p}.scale"], [out], name=f"{d.name}.per_token")
        # one scale per token: absmax over the last axis [.., 1] (the dequantizing Mul's), then QuantizeLinear
        # per axis 0 over the tokens as rows [tokens, in], zero point 128 each, back to x's shape
        nodes += [helper.make_node("Abs", [x], [f"{p}.abs"], name=f"{p}.abs"),
                  helper.make_node("ReduceMax", [f"{p}.abs", "per_token.axes"], [f"{p}.absmax"], keepdims=1,
                                   name=f"{p}.absmax"),
                  helper.make_node("Max", [f"{p}.absmax", "per_token.tiny"], [f"{p}.range"], name=f"{p}.range"),
                  helper.make_node("Div", [f"{p}.range", "per_token.levels"], [f"{p}.scale"], name=f"{p}.scale"),
                  helper.make_node("Reshape", [f"{p}.scale", "per_token.flat"], [f"{p}.scale_rows"], name=f"{p}.scale_rows"),
                  helper.make_node("Shape", [f"{p}.scale_rows"], [f"{p}.tokens"], name=f"{p}.tokens"),
                  helper.make_node("Expand", ["per_token.zero_point", f"{p}.tokens"], [f"{p}.zero_points"],
                                   name=f"{p}.zero_points"),
                  helper.make_node("Shape", [x], [f"{p}.shape"], name=f"{p}.shape"),
                  helper.make_node("Reshape", [x, f"{p}.rows_shape"], [f"{p}.rows"], name=f"{p}.rows"),
                  helper.make_node("QuantizeLinear", [f"{p}.rows", f"{p}.scale_rows", f"{p}.zero_points"],
                                   [f"{p}.quantized_rows"], axis=0, name=f"{p}.quantize"),
                  helper.make_node("Reshape", [f"{p}.quantized_rows", f"{p}.shape"], [q], name=f"{p}.unflatten")]
        width = _width(uses.get(q, []), graph)
        graph.initializer.append(numpy_helper.from_array(np.array([-1, width], np.int64), f"{p}.rows_shape"))
        graph.initializer.append(numpy_helper.from_array(np.array(ZERO_POINT, np.uint8), zero_point))
        rewritten += 1
    nodes = [m for n in nodes for m in ([n, after[n.name]] if n.name in after else [n])]
    if rewritten:
        graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in consts.items())
        del graph.node[:]
        graph.node.extend(nodes)
        onnx.save(model, str(path))
    return rewritten


def quantized_activations(path: Path) -> list[str]:
    """The inputs of ``path``'s ``DynamicQuantizeLinear`` nodes, in graph order."""
    model = onnx.load(str(path), load_external_data=False)
    return [n.input[0] for n in model.graph.node if n.op_type == "DynamicQuantizeLinear"]


def calibrate_ranges(path: Path, feeds: Iterable[dict[str, np.ndarray]],
                     statistic: str = "mean") -> dict[str, tuple[float, float]]:
    """Each quantized activation's (min, max) over ``feeds`` (one text per feed, so padding plays no part),
    run by ONNX Runtime on ``path`` with those activations as extra outputs: the mean of each text's own
    extremes (``statistic="mean"``) or the extremes over all texts (``"max"``). Ranges always hold 0, as
    ``DynamicQuantizeLinear``'s do."""
    import onnxruntime as ort

    model = onnx.load(str(path))
    names = [n.input[0] for n in model.graph.node if n.op_type == "DynamicQuantizeLinear"]
    model.graph.output.extend(helper.make_tensor_value_info(x, onnx.TensorProto.FLOAT, None) for x in names)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    lows, highs = [], []
    for feed in feeds:
        values = session.run(names, feed)
        lows.append([min(0.0, float(v.min())) for v in values])
        highs.append([max(0.0, float(v.max())) for v in values])
    if not lows:
        raise ValueError("no calibration feeds")
    lo, hi = np.array(lows), np.array(highs)
    lo, hi = (lo.mean(0), hi.mean(0)) if statistic == "mean" else (lo.min(0), hi.max(0))
    return {x: (float(lo[i]), float(hi[i])) for i, x in enumerate(names)}


def static_activations(path: Path, ranges: dict[str, tuple[float, float]]) -> int:
    """Rewrite every ``DynamicQuantizeLinear`` of ``path`` in place into a ``QuantizeLinear`` with the fixed
    scale and zero point of its calibrated (min, max), computed as ``DynamicQuantizeLinear`` computes them
    from one tensor (uint8, ``(max − min) / 255``): a token's numbers then depend on nothing else in the
    batch, and no range is measured per call. Values past the calibrated range saturate. Returns how many."""
    model = onnx.load(str(path))
    graph = model.graph
    nodes, rewritten = [], 0
    for n in graph.node:
        if n.op_type != "DynamicQuantizeLinear":
            nodes.append(n)
            continue
        x, (q, scale, zero_point) = n.input[0], n.output
        if x not in ranges:
            raise RuntimeError(f"{path.name}: no calibrated range for {x}")
        lo, hi = min(0.0, ranges[x][0]), max(0.0, ranges[x][1])
        step = max((hi - lo) / 255.0, TINY)
        point = int(np.clip(np.round(-lo / step), 0, 255))
        graph.initializer.append(numpy_helper.from_array(np.array(step, np.float32), scale))
        graph.initializer.append(numpy_helper.from_array(np.array(point, np.uint8), zero_point))
        nodes.append(helper.make_node("QuantizeLinear", [x, scale, zero_point], [q], name=f"{n.name}.static"))
        rewritten += 1
    if rewritten:
        del graph.node[:]
        graph.node.extend(nodes)
        onnx.save(model, str(path))
    return rewritten
