"""The ONNX Runtime engine (numpy + onnxruntime, no torch): one session; an adapter's LoRA factors
are fed as the slot inputs of each call."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from ...errors import BundleError
from ...formats.bundle import GRAPH_OPTIMIZATION_LEVELS, ONNXRUNTIME, onnxruntime_options, verified_file
from ...formats.lora_int8 import int8_feed
from ...formats.lora_slots import Slot
from .base import Engine


def session_options(threads: int | None, spin: bool = True, bundle: dict = ONNXRUNTIME) -> ort.SessionOptions:
    """The runtime's ONNX Runtime options: what the bundle's ``backbone.onnxruntime`` asks for
    (``formats/bundle.py``: session config entries, the log level), ``threads`` intra-op threads
    (None: ORT's default), one inter-op thread, no spin-waiting when ``spin`` is False."""
    opts = ort.SessionOptions()
    opts.log_severity_level = bundle["log_severity_level"]
    opts.graph_optimization_level = _LEVELS[bundle.get("graph_optimization_level", "all")]
    for key, value in bundle["session_config"].items():
        opts.add_session_config_entry(key, value)
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


_LEVELS = {"disable_all": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
           "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
assert set(_LEVELS) == set(GRAPH_OPTIMIZATION_LEVELS)


class OnnxEngine(Engine):
    """One ONNX Runtime session; an adapter's A/B are fed as the slot inputs of each call."""

    backend = "onnx"

    def __init__(self, folder: Path, manifest: dict, threads: int | None, verify: bool, spin: bool = True):
        where = f"bundle {folder}"
        bb = manifest["backbone"]
        model = verified_file(folder, bb["file"], bb["sha256"], "backbone file", verify)
        try:
            self.session = ort.InferenceSession(str(model), session_options(threads, spin, onnxruntime_options(manifest)),
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for invalid models
            raise BundleError(f"{where}: {model.name} cannot be loaded by ONNX Runtime ({exc})") from None
        self.no_adapter = {}
        self.int8_lora = bb.get("lora_precision") == "int8"
        self.rows_share_quantization = bb.get("precision") == "int8"  # DynamicQuantizeLinear: one scale per tensor
        self.slots = [Slot.from_json(s) for s in bb["slots"]]

    def prepare(self, lora: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
        """fp32 factors as they are; for an int8-LoRA backbone, int8 per-column (``formats/lora_int8.py``)."""
        return int8_feed(lora, self.slots) if self.int8_lora else lora

    def run(self, ids: np.ndarray, mask: np.ndarray, prepared: object) -> np.ndarray:
        assert isinstance(prepared, dict)
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask, **prepared})[0]

    def run_and_release(self, ids: np.ndarray, mask: np.ndarray, prepared: object) -> np.ndarray:
        """ONNX Runtime's CPU arena keeps its peak size; shrink it back after this run."""
        assert isinstance(prepared, dict)
        options = ort.RunOptions()
        options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask, **prepared}, options)[0]
