"""The limit: this CPU's GEMM throughput on the backbone's own shapes, int8 the way the int8 backbone
runs them (ONNX Runtime ``DynamicQuantizeMatMul``, int8 per-channel weights, activations quantized
per call) and fp32 (``MatMul``), each a one-op graph with constant weights, 1 thread."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort

from .timing import interleaved


def linear_shapes(hidden: int, intermediate: int) -> list[tuple[int, int, int]]:
    """(in, out, count per layer) of a BERT layer's linears: Q, K, V, attention out, MLP up, MLP down."""
    return [(hidden, hidden, 4), (hidden, intermediate, 1), (intermediate, hidden, 1)]


def linear_flops(length: int, hidden: int, intermediate: int, layers: int) -> float:
    return float(sum(2 * length * k * n * c for k, n, c in linear_shapes(hidden, intermediate)) * layers)


def _session(k: int, n: int, int8: bool, threads: int) -> ort.InferenceSession:
    from onnx import TensorProto, helper, numpy_helper  # the export install has it; the runtime one may not
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.05, (k, n)).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["L", k])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["L", n])
    if int8:
        scale = (np.abs(w).max(0) / 127).astype(np.float32)
        inits = [numpy_helper.from_array(np.rint(w / scale).astype(np.int8), "w"), numpy_helper.from_array(scale, "s")]
        node = helper.make_node("DynamicQuantizeMatMul", ["x", "w", "s"], ["y"], domain="com.microsoft")
    else:
        inits = [numpy_helper.from_array(w, "w")]
        node = helper.make_node("MatMul", ["x", "w"], ["y"])
    graph = helper.make_graph([node], "gemm", [x], [y], inits)
    model = helper.make_model(graph, ir_version=10, opset_imports=[helper.make_opsetid("", 18),
                                                                   helper.make_opsetid("com.microsoft", 1)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def gemm_ceiling(length: int, hidden: int, intermediate: int, threads: int, repeats: int, warmup: int) -> dict:
    """Per precision: ms for one layer's linears at ``length`` tokens (each shape's best time, the
    ceiling) and the resulting GFLOP/s."""
    out = {}
    x = {k: np.random.default_rng(k).normal(0, 1, (length, k)).astype(np.float32) for k in (hidden, intermediate)}
    for precision in ("int8", "fp32"):
        calls, counts = {}, {}
        for k, n, c in linear_shapes(hidden, intermediate):
            session = _session(k, n, precision == "int8", threads)
            calls[f"{k}x{n}"] = (lambda s=session, xk=x[k]: s.run(None, {"x": xk}))
            counts[f"{k}x{n}"] = c
        timed = interleaved(calls, repeats, warmup)
        layer_ms = sum(timed[name]["min_ms"] * c for name, c in counts.items())  # a ceiling: the best run
        flops = linear_flops(length, hidden, intermediate, 1)
        out[precision] = {"layer_linears_ms": layer_ms, "gflops": flops / layer_ms / 1e6,
                          "per_shape_best_ms": {name: t["min_ms"] for name, t in timed.items()}}
    return out

