"""Calibration texts of a static int8 export (``--activation-scales static``): read, checked and digested
before the slow part of the export; the bundle records what was used."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..data.io import read_lines
from ..errors import MtpfError
from .config import ExportConfig


@dataclass(frozen=True)
class CalibrationTexts:
    texts: list[str]
    sha256: str  # of the texts used, each followed by a newline
    source: str

    def record(self, statistic: str) -> dict:
        """The manifest's ``backbone.calibration`` entry."""
        return {"texts": len(self.texts), "sha256": self.sha256, "statistic": statistic, "source": self.source}


def read_calibration_texts(path: str | Path, limit: int) -> CalibrationTexts:
    """The first ``limit`` non-empty lines of ``path`` (UTF-8, ``.gz`` allowed)."""
    texts = [line.strip() for _, line in read_lines(path) if line.strip()]
    if not texts:
        raise MtpfError(f"{path}: no calibration texts (one text per line; empty lines are skipped)")
    texts = texts[:limit]
    digest = hashlib.sha256("".join(t + "\n" for t in texts).encode("utf-8")).hexdigest()
    return CalibrationTexts(texts, digest, Path(path).name)


def calibration_for(cfg: ExportConfig) -> CalibrationTexts | None:
    """The calibration texts ``cfg`` asks for, or None; refuses settings that do not fit together."""
    static = cfg.activation_scales == "static"
    if static and ("onnx" not in cfg.backends or cfg.precision != "int8"):
        raise MtpfError("--activation-scales static quantizes the ONNX int8 backbone: it needs --backend onnx and "
                        "--precision int8")
    if static and not cfg.calibration_texts:
        raise MtpfError("--activation-scales static needs --calibration-texts FILE (texts like the ones the bundle "
                        "will see, one per line)")
    if cfg.calibration_texts and not static:
        raise MtpfError("--calibration-texts is only used with --activation-scales static")
    return read_calibration_texts(cfg.calibration_texts, cfg.calibration_limit) if static else None
