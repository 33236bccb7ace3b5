"""Export backends, one package per backbone format. Each has ``write(job) -> dict``: it writes its
files into the bundle's temporary folder and returns its part of the bundle manifest (ONNX: the
``backbone`` entries file / sha256 / precision / ...; ExecuTorch: the ``executorch`` section). A
backend's package is imported only when the export asks for it (ExecuTorch needs executorch)."""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...formats.bundle import BACKENDS
from ...formats.lora_slots import Slot
from ..calibration import CalibrationTexts
from ..config import ExportConfig


@dataclass
class ExportJob:
    """What every export backend gets: the source backbone, the settings, the bundle's temporary folder."""

    backbone_dir: Path
    cfg: ExportConfig
    out: Path  # the bundle's temporary folder
    slots: list[Slot]
    max_length: int
    log: Callable[[str], None]
    calibration: CalibrationTexts | None = None  # --activation-scales static


def write_backend(name: str, job: ExportJob) -> dict:
    """Run export backend ``name`` (one of ``BACKENDS``); returns its manifest part."""
    if name not in BACKENDS:
        raise ValueError(f"unknown export backend {name!r} (known: {', '.join(BACKENDS)})")
    module = importlib.import_module(f"{__name__}.{name}")
    return module.write(job)
