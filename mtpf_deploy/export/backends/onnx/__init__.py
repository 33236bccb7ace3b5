"""The ONNX export backend: torch -> ONNX with LoRA slot inputs (``graph.py``), ONNX Runtime fusions
(``fusions.py``), int8 (``graph.quantize_int8``) with int8 LoRA products (``lora_int8.py``), empty
slot defaults, and the slot-layout graphs cut from it (``layouts.py``). Its manifest part is the
``backbone`` entries file, sha256, opset, precision, lora_precision, int8_options, fusions, layouts and
onnxruntime (the session options it needs; docs/formats.md)."""
from __future__ import annotations

import onnx

from ....formats.bundle import ONNXRUNTIME
from ....formats.hashing import sha256_file
from ....formats.lora_slots import layout_slots
from .. import ExportJob
from .activation_scales import per_token_activations
from .fusions import fuse_for_ort
from .graph import add_slot_defaults, export_onnx, quantize_int8
from .layouts import locate_tensors, slot_weights, write_layout
from .lora_int8 import lora_to_int8, share_quantized_inputs

FILE = "backbone.onnx"


def layout_file(name: str) -> str:
    """A layout graph sits beside ``backbone.onnx``: its external data points into that file."""
    return f"backbone.layout-{name}.onnx"


def write(job: ExportJob) -> dict:
    cfg, tmp, log = job.cfg, job.out, job.log
    raw = tmp / "backbone.export.onnx"
    log(f"exporting {job.backbone_dir} to ONNX (opset {cfg.opset}) ...")
    export_onnx(job.backbone_dir, raw, cfg.opset, row_adapters=cfg.row_adapters)
    per_token = cfg.precision == "int8" and (cfg.activation_scales == "per-token" or cfg.row_adapters)
    # int8 LoRA products quantize their inputs per tensor (lora_int8.py): per-token bundles keep them fp32
    lora_precision = "int8" if cfg.precision == "int8" and cfg.int8_lora and not per_token else "fp32"
    if lora_precision == "int8":
        lora_to_int8(raw, job.slots)
    fusions: dict[str, int] = {}
    if cfg.fuse:
        fused = tmp / "backbone.fused.onnx"
        fusions = fuse_for_ort(raw, fused)
        raw.unlink()
        raw = fused
        log("fused for ONNX Runtime: " + ", ".join(f"{k} {v}" for k, v in fusions.items()))
    model = tmp / FILE
    if cfg.precision == "int8":
        log(f"quantizing to int8 (dynamic, per-channel {' + '.join(cfg.int8_ops)} weights; LoRA {lora_precision}) ...")
        quantize_int8(raw, model, tuple(cfg.int8_ops), tuple(cfg.int8_keep_fp32), cfg.int8_embeddings)
        raw.unlink()
        if lora_precision == "int8":
            fusions["lora_shared_input_quantization"] = share_quantized_inputs(model)
        if per_token:
            fusions["per_token_activation_scales"] = per_token_activations(model)
    else:
        raw.rename(model)
    add_slot_defaults(model, job.slots)
    log(f"{FILE}: {model.stat().st_size / 1e6:.1f} MB ({cfg.precision}), {len(job.slots)} LoRA slots")
    graph = onnx.load(str(model))
    weights = slot_weights(graph, job.slots)
    places = locate_tensors(graph, {n for w in weights.values() for n in w.values() if n}, model)
    for entry in weights.values():  # what the runtime needs to fold an adapter into the weights
        entry["weight"] = {"name": entry["weight"], **places[entry["weight"]]}
        entry["scale"] = entry["scale"] and {"name": entry["scale"], **places[entry["scale"]]}
    layouts = {}
    for name in [] if cfg.row_adapters else cfg.slot_layouts:  # mixed batches need every slot
        kept = layout_slots(name, job.slots)
        path = tmp / layout_file(name)
        write_layout(model, path, job.slots, {s.a_name for s in kept})
        layouts[name] = {"file": path.name, "sha256": sha256_file(path), "slots": [s.a_name for s in kept]}
        log(f"{path.name}: {len(kept)} LoRA slots, {path.stat().st_size / 1e3:.0f} kB (its weights are {FILE}'s)")
    return {"file": model.name, "sha256": sha256_file(model), "opset": cfg.opset, "int8_options": cfg.int8_options,
            "precision": cfg.precision, "lora_precision": lora_precision, "fusions": fusions, "layouts": layouts,
            "slot_weights": weights, "onnxruntime": ONNXRUNTIME, "row_adapters": cfg.row_adapters,
            "activation_scales": "per-token" if per_token else "per-tensor"}
