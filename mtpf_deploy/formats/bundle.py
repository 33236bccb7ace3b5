"""The bundle FOLDER the system ships: backbone ONNX + tokenizer + manifest (+ adapters).

    manifest.json     {"format": "mtpf-bundle", "version": 1, "backbone": {...}, "tokenizer": "tokenizer.json",
                       "adapters": {"ner": "adapters/ner.mtpfa", ...}}
    backbone.onnx     int8 (or fp32) ONNX, LoRA slots as optional inputs with empty defaults
    tokenizer.json    the backbone's tokenizer (Hugging Face tokenizers)
    adapters/*.mtpfa  one file per adapter (see adapter_file.py)

``backbone`` holds: file, sha256 (of the ONNX file), weights_sha256 (of the source weights, which
adapters must match), precision, opset, hidden_size, num_layers, max_length, inputs, outputs, slots.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import MtpfError

FORMAT = "mtpf-bundle"
VERSION = 1
MANIFEST = "manifest.json"


def read_bundle_manifest(bundle: str | Path) -> dict:
    """Read and check a bundle manifest (``bundle`` is the folder or its manifest.json)."""
    bundle = Path(bundle)
    path = bundle / MANIFEST if bundle.is_dir() else bundle
    if not path.is_file():
        raise MtpfError(f"bundle {bundle}: no {MANIFEST} (not an mtpf bundle folder)")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MtpfError(f"bundle {path}: manifest is not valid JSON ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise MtpfError(f"bundle {path}: format {manifest.get('format')!r} is not {FORMAT!r}")
    if manifest.get("version") != VERSION:
        raise MtpfError(f"bundle {path}: format version {manifest.get('version')!r} is not supported "
                        f"(expected {VERSION})")
    for key in ("backbone", "tokenizer"):
        if key not in manifest:
            raise MtpfError(f"bundle {path}: manifest lacks {key!r}")
    return manifest


def write_bundle_manifest(folder: Path, manifest: dict) -> None:
    (folder / MANIFEST).write_text(json.dumps(dict(manifest, format=FORMAT, version=VERSION), indent=2) + "\n")
