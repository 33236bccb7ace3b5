"""``mtpf-deploy export``: the bundle folder — each asked-for backend's backbone files (``backends/``),
the tokenizer, and one ``.mtpfa`` file per adapter (``pack.py``), written atomically."""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .. import __version__
from ..backbones import DEFAULT_BACKBONE, default_backbone_dir, resolve_backbone
from ..errors import MtpfError
from ..formats.adapter_dir import read_adapter_dir
from ..formats.adapter_file import SUFFIX, check_adapter_name
from ..formats.atomic import atomic_dir
from ..formats.bundle import BACKENDS, INPUTS, OUTPUTS, default_sentence_embedding, write_bundle_manifest
from ..formats.hashing import backbone_weights_sha256
from ..formats.lora_slots import bert_slots
from .accuracy_gate import load_gate_examples, parse_gate_specs, run_gate
from .backends import ExportJob, write_backend
from .calibration import calibration_for
from .config import ExportConfig
from .ort_adapter import ort_adapter_path
from .pack import adapter_card, attach_pooler, backbone_binding, check_rank, pack_adapter
from .sentence_transformers import read_sentence_embedding, transformer_folder


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


def progress_log(bar: tqdm, log: Callable[[str], None]) -> Callable[[str], None]:
    """``log`` that prints above the progress bar (on a terminal; elsewhere tqdm draws no bar)."""
    def say(message: str) -> None:
        bar.clear()
        log(message)
        bar.refresh()
    return say


def export_bundle(backbone: str | Path, adapters: dict[str, Path], out: Path, cfg: ExportConfig | None = None, *,
                  overwrite: bool = False, log: Callable[[str], None] = print, **settings: Any) -> dict:
    """Write the bundle folder atomically; returns its manifest. ``cfg`` (or ``ExportConfig`` fields
    given as keywords, e.g. ``precision="fp32", backends=["onnx", "executorch"]``) says which backends
    and how; the other ``cfg`` fields that name the backbone and adapters are ignored here."""
    if cfg is None:
        cfg = ExportConfig.from_dict(settings, "export_bundle")
    elif settings:
        raise TypeError("give export settings as cfg or as keywords, not both")
    if not cfg.backends or set(cfg.backends) - set(BACKENDS):
        raise MtpfError(f"--backend must be onnx and/or executorch, not {cfg.backends}")
    backends = [b for b in BACKENDS if b in cfg.backends]
    given = default_backbone_dir() if str(backbone) == DEFAULT_BACKBONE else Path(backbone)
    sentence = read_sentence_embedding(given) if given.is_dir() else None
    backbone_dir = resolve_backbone(transformer_folder(given) if given.is_dir() else backbone)
    weights_sha = backbone_weights_sha256(backbone_dir)
    config = json.loads((backbone_dir / "config.json").read_text())
    positions = config.get("max_position_embeddings", 512)
    max_length = cfg.max_length or min(512, positions)
    if max_length > positions:
        raise MtpfError(f"--max-length {max_length} exceeds the backbone's {config['max_position_embeddings']} positions")
    if sentence is None:
        sentence = default_sentence_embedding(max_length)
    else:
        sentence["max_length"] = min(sentence["max_length"] or max_length, max_length)
        log(f"sentence-transformers folder: {sentence['pooling']} pooling, "
            f"{'normalised' if sentence['normalize'] else 'not normalised'}, max {sentence['max_length']} tokens "
            f"({sentence['source']}); SystemModel.embed does the same")
    parsed = {name: read_adapter_dir(path) for name, path in adapters.items()}  # validate before the slow part
    gate_sources = parse_gate_specs(cfg.gate_data, adapters)
    tasks = {name: adapter.task for name, adapter in parsed.items()}
    if gate_sources and ("onnx" not in backends or cfg.precision != "int8"):
        raise MtpfError("--gate-data compares the int8 ONNX backbone with fp32: it needs --backend onnx and --precision int8")
    gate_examples = load_gate_examples(tasks, gate_sources, cfg.gate_format, cfg.data_root)
    calibration = calibration_for(cfg)
    cards = {}
    for name, adapter in parsed.items():
        attach_pooler(adapter, backbone_binding(adapter, weights_sha, str(adapters[name]), cfg.assume_backbone),
                      str(adapters[name]))
        cards[name] = adapter_card(adapters[name], adapter)
    if "executorch" in backends:
        for name, adapter in parsed.items():
            check_rank(adapter, name, cfg.et_max_rank, f"--et-max-rank {cfg.et_max_rank}")
    with atomic_dir(out, overwrite) as tmp:
        slots = bert_slots(config["num_hidden_layers"], config["hidden_size"], config["intermediate_size"])
        manifest: dict[str, Any] = {
            "backends": backends,
            "backbone": {
                "weights_sha256": weights_sha, "source": str(backbone),
                "hidden_size": config["hidden_size"], "num_layers": config["num_hidden_layers"],
                "max_length": max_length, "inputs": INPUTS, "outputs": OUTPUTS, "slots": [s.to_json() for s in slots],
                "sentence_embedding": sentence,
            },
        }
        progress = tqdm(total=len(backends) + len(parsed), desc="export", unit="step", disable=None, leave=False)
        say = progress_log(progress, log)
        job = ExportJob(backbone_dir, cfg, tmp, slots, max_length, say, calibration)
        for name in backends:
            progress.set_description(f"export: {name} backbone")
            part = write_backend(name, job)
            progress.update()
            if name == "onnx":  # the ONNX backbone's entries live in the backbone section (format version 1)
                manifest["backbone"].update(part)
            else:
                manifest.update(part)
        shutil.copy(backbone_dir / "tokenizer.json", tmp / "tokenizer.json")
        (tmp / "adapters").mkdir()
        manifest.update({"tokenizer": "tokenizer.json", "adapters": {}, "created_by": f"mtpf-deploy {__version__}"})
        for name, adapter in parsed.items():
            progress.set_description(f"export: adapter {name}")
            rel = f"adapters/{name}{SUFFIX}"
            ort_out = ort_adapter_path(tmp / rel) if cfg.ort_adapters and "onnx" in backends else None
            info = pack_adapter(adapter, name, slots, config["hidden_size"], weights_sha, tmp / rel, str(adapters[name]),
                                assume_backbone=cfg.assume_backbone, card=cards[name], ort_out=ort_out,
                                lora_precision=manifest["backbone"].get("lora_precision", "fp32"))
            manifest["adapters"][name] = rel
            progress.update()
            say(f"packed adapter {name} ({info['task']}, {(tmp / rel).stat().st_size / 1024:.0f} KiB) -> {rel}")
            if ort_out is not None and info["lora"]:
                say(f"wrote {ort_out.relative_to(tmp)} (ONNX Runtime LoRA adapter, {manifest['backbone']['lora_precision']})")
        progress.close()
        write_bundle_manifest(tmp, manifest)
        if gate_sources:
            gated = {name: adapters[name] for name in gate_sources}
            reference = lambda folder: export_bundle(backbone, gated, folder, precision="fp32",  # noqa: E731
                                                     slot_layouts=[], log=lambda m: None)
            manifest["accuracy_gate"] = run_gate(tmp, reference, tasks, gate_sources, gate_examples,
                                                 cfg.gate_max_drop, log)
            write_bundle_manifest(tmp, manifest)
    return manifest
