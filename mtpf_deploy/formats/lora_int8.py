"""int8 LoRA feeds for an int8 ONNX backbone (torch-free; shared by the exporter and the runtime).

An int8 bundle (``backbone.lora_precision == "int8"``) computes each slot's LoRA with two ONNX Runtime
``DynamicQuantizeMatMul`` ops. Its slot inputs are then the transposed factors in int8 with one
scale per output column (symmetric, per channel), which the runtime makes once when it loads an
adapter: ``A^T`` [in, r] + ``{a}.scale`` [r], ``B^T`` [r, out] + ``{b}.scale`` [out].
A quarter of the fp32 memory, and the LoRA products run on the int8 GEMM path."""
from __future__ import annotations

import numpy as np

from .lora_slots import Slot

SCALE_SUFFIX = ".scale"


def scale_name(input_name: str) -> str:
    return input_name + SCALE_SUFFIX


def quantize_columns(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per column: ``w ≈ q * scale`` with ``q`` in [-127, 127]."""
    peak = np.abs(w).max(axis=0) if w.shape[0] else np.zeros(w.shape[1], np.float32)
    scale = (peak / 127.0).astype(np.float32)
    safe = np.where(scale > 0, scale, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / safe), -127, 127).astype(np.int8)
    return np.ascontiguousarray(q), scale


def int8_feed(lora: dict[str, np.ndarray], slots: list[Slot]) -> dict[str, np.ndarray]:
    """An adapter's fp32 LoRA (slot input name -> A [r, in] / B [out, r]) as int8 slot inputs."""
    feed: dict[str, np.ndarray] = {}
    for s in slots:
        if s.a_name not in lora:
            continue
        for name, transposed in ((s.a_name, lora[s.a_name].T), (s.b_name, lora[s.b_name].T)):
            feed[name], feed[scale_name(name)] = quantize_columns(np.asarray(transposed, np.float32))
    return feed


def empty_feed(slot: Slot) -> dict[str, np.ndarray]:
    """Zero int8 slot inputs, the adapter-free default: rank 1, because ONNX Runtime's
    ``DynamicQuantizeMatMul`` leaves its output unwritten for an inner dimension of 0."""
    return {slot.a_name: np.zeros((slot.in_features, 1), np.int8), scale_name(slot.a_name): np.zeros(1, np.float32),
            slot.b_name: np.zeros((1, slot.out_features), np.int8),
            scale_name(slot.b_name): np.zeros(slot.out_features, np.float32)}
