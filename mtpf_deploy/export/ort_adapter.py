"""An adapter as ONNX Runtime's own LoRA adapter file (``.onnx_adapter``), for users who drive a bundle's
``backbone.onnx`` with ONNX Runtime's multi-LoRA API (``LoraAdapter`` + ``RunOptions.add_active_adapter``,
in Python, Java, C#, C++ or JS) instead of our runtime (docs/formats.md, "Plain ONNX Runtime").

The parameters are the slot inputs in the form the bundle's graph takes: fp32 ``A`` [r, in] / ``B`` [out, r]
(scaling folded into B), or for an int8-LoRA bundle the transposed int8 factors with their ``.scale``
inputs (``formats/lora_int8.py``). App side: numpy + onnxruntime, no torch."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..formats.atomic import atomic_file
from ..formats.lora_int8 import int8_feed
from ..formats.lora_slots import Slot

SUFFIX = ".onnx_adapter"
ADAPTER_VERSION = 1  # ONNX Runtime's adapter_version / model_version fields (it checks neither)
MODEL_VERSION = 1


def ort_adapter_parameters(lora: dict[str, np.ndarray], slots: list[Slot], lora_precision: str) -> dict[str, np.ndarray]:
    """An adapter's fp32 LoRA as the slot inputs a backbone of ``lora_precision`` (its manifest's) takes."""
    return int8_feed(lora, slots) if lora_precision == "int8" else lora


def write_ort_adapter(parameters: dict[str, np.ndarray], out: Path, overwrite: bool = False) -> None:
    """Write ``parameters`` (slot input name -> array) as an ``.onnx_adapter`` file, atomically."""
    import onnxruntime as ort

    fmt = ort.AdapterFormat()
    fmt.set_adapter_version(ADAPTER_VERSION)
    fmt.set_model_version(MODEL_VERSION)
    fmt.set_parameters({k: ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(v)) for k, v in parameters.items()})
    with atomic_file(out, overwrite) as tmp:
        fmt.export_adapter(str(tmp))


def ort_adapter_path(mtpfa: Path) -> Path:
    """Where ``pack --ort-adapter`` and ``export --ort-adapters`` put it: beside the ``.mtpfa``, same stem."""
    return mtpfa.with_suffix(SUFFIX)
