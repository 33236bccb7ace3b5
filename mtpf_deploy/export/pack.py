"""Packing an adapter folder (``adapt``/``pretrain`` output or plain PEFT) into one ``.mtpfa`` file."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import MtpfError
from ..formats.adapter_dir import AdapterDir
from ..formats.adapter_file import HEAD_TASKS, check_adapter_name, head_width, read_adapter_file, write_adapter_file
from ..formats.lora_slots import Slot, peft_key_to_slot_input


def lora_to_slot_arrays(adapter: AdapterDir, slots: list[Slot], source: str) -> dict[str, np.ndarray]:
    """PEFT LoRA weights -> ``{slot input name: array}`` with the scaling folded into B."""
    if adapter.lora_config is None:
        return {}
    cfg = adapter.lora_config
    if cfg.get("rank_pattern") or cfg.get("alpha_pattern"):
        raise MtpfError(f"adapter {source}: per-module rank_pattern/alpha_pattern is not supported")
    if cfg.get("modules_to_save"):
        raise MtpfError(f"adapter {source}: modules_to_save {cfg['modules_to_save']} cannot be shipped as a LoRA")
    r, alpha = float(cfg["r"]), float(cfg["lora_alpha"])
    scale = float(alpha / np.sqrt(r) if cfg.get("use_rslora") else alpha / r)
    shapes = {}
    for s in slots:
        shapes[s.a_name] = (None, s.in_features)
        shapes[s.b_name] = (s.out_features, None)
    out: dict[str, np.ndarray] = {}
    for key, value in adapter.lora_weights.items():
        name = peft_key_to_slot_input(key)
        if name is None or name not in shapes:
            raise MtpfError(f"adapter {source}: LoRA weight {key} targets no slot of this backbone "
                            "(slots: query, key, value, attn_out, intermediate, output of each layer)")
        want = shapes[name]
        if value.ndim != 2 or any(w is not None and w != d for w, d in zip(want, value.shape)):
            raise MtpfError(f"adapter {source}: {key} has shape {value.shape}, slot {name} expects {want}")
        out[name] = np.ascontiguousarray(value * scale if name.endswith("lora_B") else value, dtype=np.float32)
    for name in out:
        twin = name[:-1] + ("B" if name.endswith("A") else "A")
        if twin not in out:
            raise MtpfError(f"adapter {source}: {name} has no matching {twin}")
    return out


def pack_adapter(adapter: AdapterDir, name: str, slots: list[Slot], hidden_size: int, weights_sha256: str,
                 out: Path, source: str) -> dict:
    """Write ``out`` (.mtpfa); returns its manifest. The adapter must match the backbone weights.
    The written file is read back with the runtime's own validation, so nothing ships that it would refuse."""
    check_adapter_name(name)
    trained_on = adapter.backbone.get("weights_sha256")
    if trained_on and trained_on != weights_sha256:
        raise MtpfError(f"adapter {source} was trained on backbone weights {trained_on} "
                        f"but the backbone being exported has weights {weights_sha256}")
    arrays = lora_to_slot_arrays(adapter, slots, source)
    if adapter.head is not None:
        w = adapter.head["weight"]
        width = head_width(adapter.task, hidden_size)
        if w.ndim != 2 or w.shape[1] != width:
            raise MtpfError(f"adapter {source}: head weight {w.shape} does not fit a {adapter.task} head on hidden size "
                            f"{hidden_size} (width {width})")
    if adapter.task in HEAD_TASKS and adapter.head is None:
        raise MtpfError(f"adapter {source}: a {adapter.task} adapter without head.safetensors")
    cfg = adapter.lora_config or {}
    manifest = {
        "name": name, "task": adapter.task, "labels": adapter.labels, "head": adapter.head_kind,
        "pooling": adapter.pooling or ("mean" if adapter.task != "ner" else None),
        "normalize": adapter.normalize, "max_length": adapter.max_length, "task_primary": adapter.task_primary,
        "lora": None if not arrays else {
            "rank": int(cfg.get("r", 0)), "alpha": float(cfg.get("lora_alpha", 0)), "scaling_folded_into_B": True,
            "slots": sorted(arrays), "parameters": int(sum(a.size for a in arrays.values())),
        },
        "backbone": {"weights_sha256": weights_sha256},
        "created_by": f"mtpf-deploy {__version__}",
    }
    manifest = write_adapter_file(out, manifest, arrays, adapter.head)
    read_adapter_file(out).check_fits({"weights_sha256": weights_sha256, "hidden_size": hidden_size,
                                       "slots": [s.to_json() for s in slots]})
    return manifest
