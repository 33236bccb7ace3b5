"""Transformer fusions for ONNX Runtime on the exported graph: attention as ``MultiHeadAttention``,
GELU as ``Gelu``, transposes folded into ``FusedMatMul`` (onnxscript's ORT rewriter). They match on the projected Q/K/V and the MLP
activation, so they hold with the LoRA adds in place; ONNX Runtime's own session optimizer does not
find these patterns in a dynamo export. Runs before int8 quantization and before slot defaults exist
(a slot input with an initializer would be folded as a constant)."""
from __future__ import annotations

import warnings
from pathlib import Path

import onnx_ir as ir

from ....logs import quiet_loggers


def fuse_for_ort(src: Path, dst: Path) -> dict[str, int]:
    """Fuse ``src`` into ``dst``; returns how many of each fusion applied."""
    from onnxscript.optimizer import optimize
    from onnxscript.rewriter import rewrite
    from onnxscript.rewriter.ort_fusions import _core as ort_fusions

    model = ir.load(str(src))
    with warnings.catch_warnings(), quiet_loggers(root=True):
        warnings.simplefilter("ignore")
        ort_fusions._pre_optimize(model)
        # no SkipLayerNormalization: ONNX Runtime 1.31's CPU kernel takes ~0.3 ms on 128x384 where Add +
        # LayerNormalization take ~0.08 (benchmarks/optimisation_steps.py); the runtime also turns off
        # ONNX Runtime's own SkipLayerNormFusion (formats/bundle.py, ONNXRUNTIME)
        counts = {
            "gelu": ort_fusions.fuse_erfgelu(model),
            "sdpa": ort_fusions.fuse_sdpa(model, apply_shape_inference=True),
        }
        # onnxscript's ``optimize_for_ort`` also runs fuse_mha_bias, which takes a LoRA add for the
        # projection bias (a 3-D "bias" that MultiHeadAttention rejects at run time): not used here
        counts["multi_head_attention"] = ort_fusions.fuse_mha1(model) + ort_fusions.fuse_mha2(model)
        ort_fusions.fuse_mha_scale(model)
        optimize(model)
        rewrite(model, ort_fusions.ORT_PATTERN_REWRITE_RULES)
    ir.save(model, str(dst))
    return counts
