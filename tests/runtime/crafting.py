"""Building hostile adapter files from a good one: edit the manifest or the tensors, then write a
ZIP whose member hashes are recomputed (so the deeper checks, not the hashes, must catch it)."""
from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from safetensors.numpy import load, save

MANIFEST, LORA, HEAD = "manifest.json", "lora.safetensors", "head.safetensors"


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def write_zip(dst: Path, items: list[tuple[str, bytes]], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(dst, "w", compression=compression) as z:
        for name, data in items:
            z.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return dst


def craft(src: Path, dst: Path, manifest: Callable[[dict], None] | None = None,
          lora: Callable[[dict[str, np.ndarray]], None] | None = None,
          head: Callable[[dict[str, np.ndarray]], None] | None = None,
          rehash: bool = True, drop: tuple[str, ...] = ()) -> Path:
    """A copy of ``src`` with the manifest / LoRA / head edited in place by the callables."""
    parts = members(src)
    m = json.loads(parts[MANIFEST])
    tensors = {LORA: load(parts[LORA]) if LORA in parts else None, HEAD: load(parts[HEAD]) if HEAD in parts else None}
    for name, fn in ((LORA, lora), (HEAD, head)):
        if fn is not None and tensors[name] is not None:
            fn(tensors[name])
            parts[name] = save({k: np.ascontiguousarray(v) for k, v in tensors[name].items()})
    for name in drop:
        parts.pop(name, None)
    if rehash:
        m["members"] = {n: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)}
                        for n, b in parts.items() if n != MANIFEST}
    if lora is not None and LORA in parts and tensors[LORA] is not None and rehash:
        m["lora"]["slots"] = sorted(tensors[LORA])
        m["lora"]["parameters"] = int(sum(v.size for v in tensors[LORA].values()))
    if manifest is not None:
        manifest(m)
    parts[MANIFEST] = json.dumps(m).encode()
    return write_zip(dst, list(parts.items()))
