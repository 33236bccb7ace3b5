"""The ExecuTorch engine of the runtime (``SystemModel.load(bundle, backend="executorch")``).

Executorch's Python bindings take torch tensors only, so this engine needs ``torch`` besides
``executorch`` and is imported only when asked for (``pip install 'mtpf-deploy[executorch]'``); the ONNX path
needs neither. On a phone the C++/Java ExecuTorch runtime loads the same ``.pte`` + ``.ptd`` without
torch. The program's LoRA inputs have a fixed rank (``executorch.max_rank``): an adapter's A/B are
zero-padded to it once, when the adapter is loaded; no adapter is all zeros."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..errors import AdapterError, BundleError
from ..formats.bundle import verified_file
from ..runtime.engines.base import Engine

OLD_MAX_BATCH = 256  # the batch bound of programs exported before ``executorch.max_batch`` was recorded


_pool_threads: int | None = None  # the size this process's ExecuTorch thread pool was given


def _size_thread_pool(portable_lib, threads: int | None) -> None:
    """ExecuTorch has one thread pool per process, and XNNPACK programs keep the pool they were loaded
    with: resizing it under a loaded program crashes the process. So it is sized once, before the
    first program loads, and a later load asking for another size is refused."""
    global _pool_threads
    if not threads or threads == _pool_threads:
        return
    if _pool_threads is not None:
        raise BundleError(f"ExecuTorch's thread pool is shared by the whole process and already has {_pool_threads} "
                          f"thread(s); load every executorch SystemModel of this process with threads={_pool_threads}")
    portable_lib._unsafe_reset_threadpool(threads)
    _pool_threads = threads


class ExecutorchEngine(Engine):
    backend = "executorch"

    def __init__(self, folder: Path, manifest: dict, threads: int | None, verify: bool):
        where = f"bundle {folder}"
        et = manifest["executorch"]
        paths = {key: verified_file(folder, et[key], et[f"{key}_sha256"], f"ExecuTorch {key} file", verify)
                 for key in ("program", "data")}
        try:
            import torch
            from executorch.extension.pybindings import portable_lib
        except ImportError:
            raise BundleError("the executorch backend needs executorch and torch: "
                              "pip install 'mtpf-deploy[executorch]'") from None
        self.torch = torch
        _size_thread_pool(portable_lib, threads)
        try:
            self.module = portable_lib._load_for_executorch(str(paths["program"]), str(paths["data"]))
        except Exception as exc:  # executorch raises RuntimeError with an error code
            raise BundleError(f"{where}: {paths['program'].name} + {paths['data'].name} cannot be loaded by "
                              f"ExecuTorch ({exc})") from None
        self.slots = manifest["backbone"]["slots"]
        self.rank = int(et["max_rank"])
        self.max_batch = int(et.get("max_batch", OLD_MAX_BATCH))
        self._lock = threading.Lock()  # one loaded method: calls take turns
        self.no_adapter = self.prepare({}, where)

    def prepare(self, lora: dict[str, np.ndarray], where: str) -> list:
        """A/B of every slot, zero-padded to the program's rank, as torch tensors in input order."""
        out = []
        for s in self.slots:
            a = np.zeros((self.rank, s["in"]), np.float32)
            b = np.zeros((s["out"], self.rank), np.float32)
            if s["a"] in lora:
                r = lora[s["a"]].shape[0]
                if r > self.rank:
                    raise AdapterError(f"{where}: LoRA rank {r} is more than this ExecuTorch program takes "
                                       f"({self.rank}); re-export the bundle with --et-max-rank {r}")
                a[:r], b[:, :r] = lora[s["a"]], lora[s["b"]]
            out += [self.torch.from_numpy(a), self.torch.from_numpy(b)]
        return out

    def run(self, ids: np.ndarray, mask: np.ndarray, prepared: object) -> np.ndarray:
        assert isinstance(prepared, list)
        parts = []
        step: int = self.max_batch or OLD_MAX_BATCH
        for k in range(0, len(ids), step):
            inputs = (self.torch.from_numpy(ids[k : k + step]), self.torch.from_numpy(mask[k : k + step]), *prepared)
            with self._lock:
                parts.append(self.module.forward(inputs)[0].numpy().copy())
        return np.concatenate(parts)
