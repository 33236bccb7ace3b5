"""Backbone engines, one per backend, behind ``base.Engine``: ``onnx`` (ONNX Runtime, here: numpy +
onnxruntime, no torch) and ``executorch`` (``mtpf_deploy/torch_engines/executorch.py``: its Python
bindings take torch tensors, so it lives outside ``runtime/`` and is imported only when asked for).
Adding a backend: an engine module (here if it needs no torch), its branch in ``load_engine``, its name
in ``formats/bundle.py`` ``BACKENDS``, and an export backend (``export/backends/``); docs/architecture.md."""
from __future__ import annotations

from pathlib import Path

from ...errors import BundleError
from ...formats.bundle import BACKENDS
from .base import Engine

__all__ = ["BACKENDS", "Engine", "load_engine"]


def load_engine(backend: str, folder: Path, manifest: dict, threads: int | None, verify: bool,
                spin: bool = True, layouts: bool = True) -> Engine:
    """The engine of ``backend``, which the bundle must have been exported for."""
    if backend not in BACKENDS:
        raise BundleError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    available = manifest.get("backends", ["onnx"])
    if backend not in available:
        raise BundleError(f"bundle {folder} has no {backend} backbone (it has {', '.join(available)}); "
                          f"export it with --backend {backend}")
    if backend == "onnx":
        from .onnx import OnnxEngine

        return OnnxEngine(folder, manifest, threads, verify, spin, layouts)
    from ...torch_engines.executorch import ExecutorchEngine  # torch + executorch, outside runtime/

    return ExecutorchEngine(folder, manifest, threads, verify)
