"""``mtpf-deploy export``: backbone ONNX (+ int8) with LoRA slots, tokenizer, one file per adapter."""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from .. import __version__
from ..backbones import resolve_backbone
from ..errors import MtpfError
from ..formats.adapter_dir import AdapterDir, read_adapter_dir
from ..formats.adapter_file import SUFFIX, check_adapter_name
from ..formats.atomic import atomic_dir
from ..formats.bundle import BACKENDS, write_bundle_manifest
from ..formats.hashing import backbone_weights_sha256, sha256_file
from ..formats.lora_slots import bert_slots
from .onnx_backbone import INPUTS, OUTPUTS, add_slot_defaults, export_onnx, quantize_int8
from .onnx_fusions import fuse_for_ort
from .onnx_lora_int8 import lora_to_int8, share_quantized_inputs
from .pack import pack_adapter


def resolve_adapter_specs(specs: list[str], run: Path | None) -> dict[str, Path]:
    """``ner`` (-> RUN/adapters/ner), ``name=PATH``, or a folder path (named after the folder)."""
    out: dict[str, Path] = {}
    for spec in specs:
        spec = spec.strip()
        if not spec:
            continue
        if "=" in spec:
            name, _, path = spec.partition("=")
            name, path = name.strip(), Path(path.strip())
        elif run is not None and (run / "adapters" / spec).is_dir():
            name, path = spec, run / "adapters" / spec
        elif Path(spec).is_dir():
            name, path = Path(spec).name, Path(spec)
        else:
            where = f" (no {run / 'adapters' / spec})" if run is not None else " (give --run DIR or name=PATH)"
            raise MtpfError(f"adapter {spec!r} not found{where}")
        check_adapter_name(name)
        if name in out:
            raise MtpfError(f"adapter name {name!r} given twice")
        out[name] = path
    return out


def check_rank(adapter: AdapterDir, source: str, max_rank: int, limit: str) -> None:
    """Refuse a LoRA wider than the ExecuTorch program's rank inputs (``limit`` says where that rank comes from)."""
    rank = int((adapter.lora_config or {}).get("r", 0))
    if rank > max_rank:
        raise MtpfError(f"adapter {source} has LoRA rank {rank}, more than {limit}")


def export_bundle(
    backbone: str | Path,
    adapters: dict[str, Path],
    out: Path,
    quantize: str = "int8",
    max_length: int | None = None,
    opset: int = 18,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
    int8_options: dict | None = None,
    backends: tuple[str, ...] = ("onnx",),
    et_max_rank: int = 32,
    et_quantize: str = "none",
    fuse: bool = True,
    int8_lora: bool = True,
) -> dict:
    """Write the bundle folder atomically; returns its manifest. ``int8_options`` go to
    ``quantize_int8`` (``op_types``, ``keep_fp32``). ``backends``: ``onnx`` and/or ``executorch``
    (a ``.pte`` program + one ``.ptd`` weights file, LoRA inputs of rank ``et_max_rank``). ``fuse``:
    ONNX Runtime fusions (``onnx_fusions.py``); ``int8_lora``: an int8 ONNX backbone computes the LoRA
    products in int8 too (``onnx_lora_int8.py``)."""
    if quantize not in ("int8", "none"):
        raise MtpfError(f"--quantize must be int8 or none, not {quantize!r}")
    if not backends or set(backends) - set(BACKENDS):
        raise MtpfError(f"backends must be onnx and/or executorch, not {backends}")
    backbone_dir = resolve_backbone(backbone)
    weights_sha = backbone_weights_sha256(backbone_dir)
    config = json.loads((backbone_dir / "config.json").read_text())
    positions = config.get("max_position_embeddings", 512)
    max_length = max_length or min(512, positions)
    if max_length > positions:
        raise MtpfError(f"--max-length {max_length} exceeds the backbone's {config['max_position_embeddings']} positions")
    parsed = {name: read_adapter_dir(path) for name, path in adapters.items()}  # validate before the slow part
    if "executorch" in backends:
        for name, adapter in parsed.items():
            check_rank(adapter, name, et_max_rank, f"--et-max-rank {et_max_rank}")
    with atomic_dir(out, overwrite) as tmp:
        c = config
        slots = bert_slots(c["num_hidden_layers"], c["hidden_size"], c["intermediate_size"])
        backbone_info = {
            "weights_sha256": weights_sha, "source": str(backbone),
            "hidden_size": config["hidden_size"], "num_layers": config["num_hidden_layers"],
            "max_length": max_length, "inputs": INPUTS, "outputs": OUTPUTS, "slots": [s.to_json() for s in slots],
        }
        if "onnx" in backends:
            raw = tmp / "backbone.export.onnx"
            log(f"exporting {backbone_dir} to ONNX (opset {opset}) ...")
            export_onnx(backbone_dir, raw, opset)
            lora_precision = "int8" if quantize == "int8" and int8_lora else "fp32"
            if lora_precision == "int8":
                lora_to_int8(raw, slots)
            fusions: dict[str, int] = {}
            if fuse:
                fused = tmp / "backbone.fused.onnx"
                fusions = fuse_for_ort(raw, fused)
                raw.unlink()
                raw = fused
                log("fused for ONNX Runtime: " + ", ".join(f"{k} {v}" for k, v in fusions.items()))
            model = tmp / "backbone.onnx"
            if quantize == "int8":
                log(f"quantizing to int8 (dynamic, per-channel MatMul + embedding weights; LoRA {lora_precision}) ...")
                quantize_int8(raw, model, **(int8_options or {}))
                raw.unlink()
                if lora_precision == "int8":
                    fusions["lora_shared_input_quantization"] = share_quantized_inputs(model)
            else:
                raw.rename(model)
            add_slot_defaults(model, slots)
            backbone_info.update(file=model.name, sha256=sha256_file(model), opset=opset, int8_options=int8_options or {},
                                 precision=quantize if quantize == "int8" else "fp32",
                                 lora_precision=lora_precision, fusions=fusions)
            log(f"backbone.onnx: {model.stat().st_size / 1e6:.1f} MB ({backbone_info['precision']}), "
                f"{len(slots)} LoRA slots")
        executorch = None
        if "executorch" in backends:
            from .executorch_backbone import export_executorch

            precision = "int8" if et_quantize == "int8" else "fp32"
            log(f"exporting {backbone_dir} to ExecuTorch (XNNPACK, {precision}, LoRA inputs of rank {et_max_rank}) ...")
            pte, ptd, _ = export_executorch(backbone_dir, tmp, et_max_rank, max_length, et_quantize)
            executorch = {"program": pte.name, "program_sha256": sha256_file(pte), "data": ptd.name,
                          "data_sha256": sha256_file(ptd), "max_rank": et_max_rank, "delegate": "xnnpack",
                          "precision": precision}
            log(f"{pte.name}: {pte.stat().st_size / 1e6:.2f} MB, {ptd.name}: {ptd.stat().st_size / 1e6:.1f} MB")
        shutil.copy(backbone_dir / "tokenizer.json", tmp / "tokenizer.json")
        (tmp / "adapters").mkdir()
        manifest = {
            "backends": list(b for b in ("onnx", "executorch") if b in backends),
            "backbone": backbone_info,
            **({"executorch": executorch} if executorch else {}),
            "tokenizer": "tokenizer.json",
            "adapters": {},
            "created_by": f"mtpf-deploy {__version__}",
        }
        for name, adapter in parsed.items():
            rel = f"adapters/{name}{SUFFIX}"
            info = pack_adapter(adapter, name, slots, config["hidden_size"], weights_sha, tmp / rel,
                                str(adapters[name]))
            manifest["adapters"][name] = rel
            size = (tmp / rel).stat().st_size
            log(f"packed adapter {name} ({info['task']}, {size / 1024:.0f} KiB) -> {rel}")
        write_bundle_manifest(tmp, manifest)
    return manifest


def pack_single(backbone_bundle: Path, adapter_dir: Path, name: str, out: Path, overwrite: bool = False) -> dict:
    """Pack one more adapter for an existing bundle (the app side does not need the backbone weights)."""
    from ..formats.atomic import atomic_file
    from ..formats.bundle import read_bundle_manifest
    from ..formats.lora_slots import Slot

    manifest = read_bundle_manifest(backbone_bundle)
    bb = manifest["backbone"]
    slots = [Slot.from_json(s) for s in bb["slots"]]
    adapter = read_adapter_dir(adapter_dir)
    if "executorch" in manifest.get("backends", []):
        max_rank = manifest["executorch"]["max_rank"]
        check_rank(adapter, str(adapter_dir), max_rank, f"the bundle's ExecuTorch program takes ({max_rank})")
    with atomic_file(out, overwrite) as tmp:
        return pack_adapter(adapter, name, slots, bb["hidden_size"], bb["weights_sha256"], tmp, str(adapter_dir))
