"""Backbone engines behind the one runtime API: each loads the bundle's backbone for its backend,
turns an adapter's LoRA tensors into what its calls take (``prepare``), and runs a padded batch
(``run``). ONNX Runtime here (no torch); ExecuTorch in ``mtpf_deploy.runtime_executorch`` (its
Python bindings need torch tensors)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..errors import BundleError
from ..formats.bundle import verified_file
from ..formats.lora_int8 import int8_feed
from ..formats.lora_slots import Slot

BACKENDS = ("onnx", "executorch")
# ONNX Runtime 1.31's SkipLayerNormalization CPU kernel is ~4x slower than the Add + LayerNormalization
# it replaces on this model's shapes (docs/benchmarks.md): leave them unfused
SESSION_DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]


def session_options(threads: int | None, spin: bool = True) -> ort.SessionOptions:
    """The runtime's ONNX Runtime options: ``threads`` intra-op threads (None: ORT's default), one
    inter-op thread, no spin-waiting when ``spin`` is False, warnings off (slot defaults are graph
    inputs by design, which ORT would warn about)."""
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


class Engine:
    """What the runtime needs of a backend."""

    backend: str
    no_adapter: object  # ``prepare({})``

    def prepare(self, lora: dict[str, np.ndarray], where: str) -> object:
        """An adapter's LoRA tensors (slot input name -> array) as this engine's per-call input."""
        raise NotImplementedError

    def run(self, ids: np.ndarray, mask: np.ndarray, prepared: object) -> np.ndarray:
        """Hidden states [B, S, H] of a padded batch with a prepared adapter active."""
        raise NotImplementedError

    def run_and_release(self, ids: np.ndarray, mask: np.ndarray, prepared: object) -> np.ndarray:
        """``run``, then give the activation memory it took back (for a one-off large batch)."""
        return self.run(ids, mask, prepared)


class OnnxEngine(Engine):
    """One ONNX Runtime session; an adapter's A/B are fed as the slot inputs of each call."""

    backend = "onnx"

    def __init__(self, folder: Path, manifest: dict, threads: int | None, verify: bool, spin: bool = True):
        where = f"bundle {folder}"
        bb = manifest["backbone"]
        model = verified_file(folder, bb["file"], bb["sha256"], "backbone file", verify)
        try:
            self.session = ort.InferenceSession(str(model), session_options(threads, spin),
                                                providers=["CPUExecutionProvider"],
                                                disabled_optimizers=SESSION_DISABLED_OPTIMIZERS)
        except Exception as exc:  # onnxruntime raises its own exception types for invalid models
            raise BundleError(f"{where}: {model.name} cannot be loaded by ONNX Runtime ({exc})") from None
        self.no_adapter = {}
        self.int8_lora = bb.get("lora_precision") == "int8"
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


def load_engine(backend: str, folder: Path, manifest: dict, threads: int | None, verify: bool,
                spin: bool = True) -> Engine:
    """The engine of ``backend``, which the bundle must have been exported for."""
    if backend not in BACKENDS:
        raise BundleError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    available = manifest.get("backends", ["onnx"])
    if backend not in available:
        raise BundleError(f"bundle {folder} has no {backend} backbone (it has {', '.join(available)}); "
                          f"export it with --format {backend} or both")
    if backend == "onnx":
        return OnnxEngine(folder, manifest, threads, verify, spin)
    from ..runtime_executorch import ExecutorchEngine

    return ExecutorchEngine(folder, manifest, threads, verify)
