"""Backbone engines, one module per backend: ``onnx`` (ONNX Runtime, no torch) and ``executorch``
(its Python bindings take torch tensors, so it is imported only when asked for). Adding a backend:
an engine module here, its name in ``formats/bundle.py`` ``BACKENDS``, and an export backend
(``export/backends/``); see docs/architecture.md."""
from __future__ import annotations

from pathlib import Path

from ...errors import BundleError
from ...formats.bundle import BACKENDS
from .base import Engine

__all__ = ["BACKENDS", "Engine", "load_engine"]


def load_engine(backend: str, folder: Path, manifest: dict, threads: int | None, verify: bool,
                spin: bool = True) -> Engine:
    """The engine of ``backend``, which the bundle must have been exported for."""
    if backend not in BACKENDS:
        raise BundleError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    available = manifest.get("backends", ["onnx"])
    if backend not in available:
        raise BundleError(f"bundle {folder} has no {backend} backbone (it has {', '.join(available)}); "
                          f"export it with --backend {backend}")
    if backend == "onnx":
        from .onnx import OnnxEngine

        return OnnxEngine(folder, manifest, threads, verify, spin)
    from .executorch import ExecutorchEngine

    return ExecutorchEngine(folder, manifest, threads, verify)
