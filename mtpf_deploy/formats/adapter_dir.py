"""The adapter *folder* written by ``adapt`` and ``pretrain`` (training side output, export input).

Layout::

    adapter_config.json        PEFT LoRA config      (absent for a head-only TC adapter)
    adapter_model.safetensors  PEFT LoRA weights
    head.safetensors           {"weight": [C, H], "bias": [C]}  (absent for a LoRA-only adapter)
    task.json                  {"format", "version", "task", "labels", "head", "pooling", "normalize",
                                "max_length", "task_primary", "backbone": {"name", "weights_sha256"}}
    metrics.json, config.json  what the run measured and the settings it used

A plain PEFT folder (adapter_config.json + adapter_model.safetensors only) is accepted too: it is
read as a LoRA-only adapter of task ``"lora"``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from ..errors import MtpfError
from .lora_spec import LoraSpec
from .tasks import TASK_NAMES

FORMAT = "mtpf-deploy-adapter-dir"
VERSION = 1


@dataclass
class AdapterDir:
    """An adapter folder in memory (numpy arrays, no torch)."""

    task: str
    labels: list[str] = field(default_factory=list)
    lora_config: dict | None = None  # PEFT adapter_config.json
    lora_weights: dict[str, np.ndarray] = field(default_factory=dict)  # PEFT keys
    head: dict[str, np.ndarray] | None = None  # weight [C, H], bias [C]
    head_kind: str | None = None  # "linear" (softmax) | "logistic-regression" (softmax over C)
    pooling: str | None = None  # "mean" for tc
    normalize: bool = False  # L2-normalise the pooled embedding before the head
    max_length: int = 128
    task_primary: bool = False
    backbone: dict = field(default_factory=dict)  # {"name", "weights_sha256"}
    extra: dict = field(default_factory=dict)

    @property
    def lora_spec(self) -> LoraSpec | None:
        """Rank, alpha and scaling of the LoRA (None: head-only), read from its PEFT config."""
        return None if self.lora_config is None else LoraSpec.from_peft_config(self.lora_config, "adapter")

    def task_json(self) -> dict:
        return {
            "format": FORMAT, "version": VERSION, "task": self.task, "labels": self.labels,
            "head": self.head_kind, "pooling": self.pooling, "normalize": self.normalize,
            "max_length": self.max_length, "task_primary": self.task_primary, "backbone": self.backbone,
            **self.extra,
        }


def write_adapter_dir(folder: str | Path, adapter: AdapterDir) -> None:
    """Write the task/head part into ``folder`` (PEFT files are written by ``save_pretrained``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if adapter.head is not None:
        save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in adapter.head.items()},
                  str(folder / "head.safetensors"))
    (folder / "task.json").write_text(json.dumps(adapter.task_json(), indent=2) + "\n")


def read_adapter_dir(folder: str | Path) -> AdapterDir:
    """Read an adapter folder (ours, or a plain PEFT LoRA folder); errors name the folder and problem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MtpfError(f"adapter {folder}: not a directory")
    task_path = folder / "task.json"
    has_peft = (folder / "adapter_config.json").exists()
    if not task_path.exists() and not has_peft:
        raise MtpfError(f"adapter {folder}: neither task.json nor adapter_config.json (not an adapter folder)")
    meta: dict = {"task": "lora"}
    if task_path.exists():
        try:
            meta = json.loads(task_path.read_text())
        except json.JSONDecodeError as exc:
            raise MtpfError(f"adapter {task_path}: invalid JSON ({exc.msg})") from None
        if meta.get("format") != FORMAT:
            raise MtpfError(f"adapter {task_path}: format {meta.get('format')!r} is not {FORMAT!r}")
        if meta.get("version") != VERSION:
            raise MtpfError(f"adapter {task_path}: version {meta.get('version')!r} is not supported (expected {VERSION})")
        if meta.get("task") not in TASK_NAMES:
            raise MtpfError(f"adapter {task_path}: unknown task {meta.get('task')!r}")
    adapter = AdapterDir(
        task=meta["task"], labels=list(meta.get("labels", [])), head_kind=meta.get("head"),
        pooling=meta.get("pooling"), normalize=bool(meta.get("normalize", False)),
        max_length=int(meta.get("max_length", 128)), task_primary=bool(meta.get("task_primary", False)),
        backbone=dict(meta.get("backbone", {})),
        extra={k: v for k, v in meta.items() if k not in AdapterDir(task="lora").task_json()},
    )
    if has_peft:
        adapter.lora_config, adapter.lora_weights = read_peft_lora(folder)
    if (folder / "head.safetensors").exists():
        adapter.head = _load(folder / "head.safetensors")
        if set(adapter.head) != {"weight", "bias"}:
            raise MtpfError(f"adapter {folder}/head.safetensors: expected tensors 'weight' and 'bias'")
        if adapter.labels and adapter.head["weight"].shape[0] != len(adapter.labels):
            raise MtpfError(f"adapter {folder}: head has {adapter.head['weight'].shape[0]} outputs "
                            f"but task.json lists {len(adapter.labels)} labels")
    return adapter


def _load(path: Path) -> dict[str, np.ndarray]:
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise MtpfError(f"{path}: not a readable safetensors file ({exc})") from None


def read_peft_lora(folder: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """PEFT ``adapter_config.json`` and LoRA weights (``adapter_model.safetensors``)."""
    folder = Path(folder)
    if not (folder / "adapter_config.json").is_file():
        raise MtpfError(f"{folder}: no adapter_config.json (not a PEFT LoRA folder)")
    try:
        config = json.loads((folder / "adapter_config.json").read_text())
    except json.JSONDecodeError as exc:
        raise MtpfError(f"{folder}/adapter_config.json: invalid JSON ({exc.msg})") from None
    LoraSpec.from_peft_config(config, str(folder))  # what cannot ship is refused when read
    weights_path = folder / "adapter_model.safetensors"
    if not weights_path.exists():
        raise MtpfError(f"{folder}: adapter_config.json without adapter_model.safetensors "
                        "(only safetensors adapters are accepted; no pickle)")
    return config, _load(weights_path)
