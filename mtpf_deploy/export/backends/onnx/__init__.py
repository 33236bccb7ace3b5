"""The ONNX export backend: torch -> ONNX with LoRA slot inputs (``graph.py``), ONNX Runtime fusions
(``fusions.py``), int8 (``graph.quantize_int8``) with int8 LoRA products (``lora_int8.py``), empty
slot defaults, and the slot-layout graphs cut from it (``layouts.py``). Its manifest part is the
``backbone`` entries file, sha256, opset, precision, lora_precision, int8_options, fusions, layouts and
onnxruntime (the session options it needs; docs/formats.md)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from tqdm import tqdm

from ....data.tokenization import load_tokenizer, truncated_rows
from ....formats.bundle import ONNXRUNTIME
from ....formats.hashing import sha256_file
from ....formats.lora_slots import ROWS_INPUT, layout_slots
from .. import ExportJob
from .activation_scales import calibrate_ranges, per_token_activations, static_activations
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
    scales = "per-token" if cfg.row_adapters and cfg.activation_scales == "per-tensor" else cfg.activation_scales
    per_token = cfg.precision == "int8" and scales == "per-token"
    static = cfg.precision == "int8" and scales == "static"
    # int8 LoRA products quantize their inputs per tensor (lora_int8.py): batch-independent bundles keep them fp32
    lora_precision = "int8" if cfg.precision == "int8" and cfg.int8_lora and not (per_token or static) else "fp32"
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
        log(f"quantizing to int8 (per-channel {' + '.join(cfg.int8_ops)} weights, activation scales {scales}; "
            f"LoRA {lora_precision}) ...")
        quantize_int8(raw, model, tuple(cfg.int8_ops), tuple(cfg.int8_keep_fp32), cfg.int8_embeddings)
        raw.unlink()
        if lora_precision == "int8":
            fusions["lora_shared_input_quantization"] = share_quantized_inputs(model)
        if per_token:
            fusions["per_token_activation_scales"] = per_token_activations(model)
    else:
        raw.rename(model)
    add_slot_defaults(model, job.slots)
    if static:
        fusions["static_activation_scales"] = calibrate_static(job, model)
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
            "activation_scales": scales if cfg.precision == "int8" else "per-tensor",
            **({"calibration": job.calibration.record(cfg.calibration_range)} if static and job.calibration else {})}


def calibrate_static(job: ExportJob, model: Path) -> int:
    """Fix every activation scale of the int8 ``model`` from the calibration texts, each run alone with no
    adapter (``activation_scales.calibrate_ranges``); returns how many quantizations it rewrote."""
    if job.calibration is None:
        raise RuntimeError("static activation scales need calibration texts")
    tok = load_tokenizer(job.backbone_dir)
    rows, _ = truncated_rows(tok, job.calibration.texts, job.max_length)
    inputs = {i.name for i in onnx.load(str(model), load_external_data=False).graph.input}
    feeds = ({"input_ids": np.array([row], np.int64), "attention_mask": np.ones((1, len(row)), np.int64),
              **({ROWS_INPUT: np.zeros(1, np.int64)} if ROWS_INPUT in inputs else {})}
             for row in tqdm(rows, desc="calibrating int8 scales", unit="text", disable=None, leave=False))
    job.log(f"calibrating int8 activation scales on {len(rows)} texts ({job.cfg.calibration_range} of each text's range)")
    return static_activations(model, calibrate_ranges(model, feeds, job.cfg.calibration_range))
