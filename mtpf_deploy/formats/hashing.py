"""Content hashes used to tie adapters to the backbone they were trained on."""
from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def backbone_weights_sha256(model_dir: str | Path) -> str:
    """sha256 of a Hugging Face folder's weights file (model.safetensors, else pytorch_model.bin)."""
    d = Path(model_dir)
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (d / name).exists():
            return sha256_file(d / name)
    raise FileNotFoundError(f"{d}: no model.safetensors or pytorch_model.bin")
