"""The adapter *folder* written by ``adapt`` and ``pretrain`` (training side output, export input).

Layout::

    adapter_config.json        PEFT LoRA config      (absent for a head-only TC adapter)
    adapter_model.safetensors  PEFT LoRA weights
    head.safetensors           {"weight": [C, H], "bias": [C]}  (absent for a LoRA-only adapter)
    task.json                  {"format", "version", "task", "labels", "head", "pooling", "normalize",
                                "max_length", "task_primary", "backbone": {"name", "weights_sha256"}, "card"}
    metrics.json, config.json  what the run measured and the settings it used
    README.md                  a model card (PEFT writes one), kept in the packed adapter's card

A plain PEFT folder (adapter_config.json + adapter_model.safetensors only) is accepted too: it is
read as a LoRA-only adapter of task ``"lora"``, or, made with ``task_type=TOKEN_CLS``, as an ``ner``
adapter whose head is PEFT's saved ``classifier`` (``modules_to_save``; labels from ``--labels`` or the
``id2label`` of a ``config.json`` saved beside it); made with ``task_type=SEQ_CLS``, as a ``tc`` adapter with a
``pooler-linear`` head (its classifier after the base model's pooler on [CLS], which ``pack`` adds).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from ..errors import MtpfError
from .card import validate_card
from .lora_spec import LoraSpec
from .tasks import POOLER_HEAD, TASK_NAMES

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
    card: dict = field(default_factory=dict)  # the adapter card's fields (``card.py``), set by ``adapt``
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
            **({"card": self.card} if self.card else {}), **self.extra,
        }


PEFT_HEAD_KEY = re.compile(r"(?:^|\.)(classifier|score)\.(weight|bias)$")  # modules_to_save of TOKEN_CLS/SEQ_CLS


def peft_labels(folder: Path, labels: list[str] | None, width: int, task_type: str = "TOKEN_CLS") -> list[str]:
    """The classifier's labels in output order: ``labels`` if given, else ``config.json``'s ``id2label``."""
    if labels is None and (folder / "config.json").is_file():
        try:
            id2label = json.loads((folder / "config.json").read_text()).get("id2label") or {}
            labels = [id2label[k] for k in sorted(id2label, key=int)]
        except (json.JSONDecodeError, ValueError, AttributeError, TypeError):
            raise MtpfError(f"adapter {folder}/config.json: no readable id2label") from None
    if labels is None:
        example = "O,B-PER,I-PER,..." if task_type == "TOKEN_CLS" else "negative,positive,..."
        raise MtpfError(f"adapter {folder}: a {task_type} PEFT adapter needs its labels in the classifier's output order: "
                        f"--labels {example} ({width} of them), or the model's config.json (id2label) beside it")
    if len(labels) != width:
        raise MtpfError(f"adapter {folder}: the classifier has {width} outputs but {len(labels)} labels were given")
    return labels


def split_peft_head(folder: Path, adapter: AdapterDir, labels: list[str] | None) -> None:
    """A PEFT folder's task head (``modules_to_save``) becomes the adapter's head; refuse what cannot ship."""
    config = adapter.lora_config or {}
    saved = list(config.get("modules_to_save") or [])
    task_type = config.get("task_type")
    head = {k: v for k, v in adapter.lora_weights.items() if "lora_" not in k and PEFT_HEAD_KEY.search(k)}
    other = [m for m in saved if m not in ("classifier", "score")]
    if other:
        raise MtpfError(f"adapter {folder}: modules_to_save {other} are full copies of backbone modules; only a LoRA "
                        "and a classifier head can ship as an adapter")
    if not head:
        if saved and any(k for k in adapter.lora_weights if "lora_" not in k):
            raise MtpfError(f"adapter {folder}: modules_to_save {saved} holds tensors that are not a linear classifier")
        return
    if task_type not in ("TOKEN_CLS", "SEQ_CLS"):
        raise MtpfError(f"adapter {folder}: a classifier head is saved, but task_type is {task_type!r}; only TOKEN_CLS "
                        "(ner) and SEQ_CLS (tc) heads can ship")
    by_part = {PEFT_HEAD_KEY.search(k).group(2): v for k, v in head.items()}  # type: ignore[union-attr]
    if set(by_part) != {"weight", "bias"} or len(head) != 2:
        raise MtpfError(f"adapter {folder}: the saved classifier must be one weight and one bias, not {sorted(head)}")
    weight, bias = by_part["weight"], by_part["bias"]
    if weight.ndim != 2 or bias.shape != (weight.shape[0],):
        raise MtpfError(f"adapter {folder}: classifier weight {weight.shape} and bias {bias.shape} do not fit together")
    if task_type == "SEQ_CLS":  # the classifier reads BERT's pooler on [CLS]: pack adds the base model's pooler
        adapter.task, adapter.head_kind, adapter.pooling, adapter.normalize = "tc", POOLER_HEAD, "cls", False
    else:
        adapter.task, adapter.head_kind = "ner", "linear"
    adapter.head = {"weight": weight, "bias": bias}
    adapter.labels = peft_labels(folder, labels, weight.shape[0], task_type)
    adapter.lora_weights = {k: v for k, v in adapter.lora_weights.items() if k not in head}
    adapter.lora_config = {k: v for k, v in config.items() if k != "modules_to_save"}


def write_adapter_dir(folder: str | Path, adapter: AdapterDir) -> None:
    """Write the task/head part into ``folder`` (PEFT files are written by ``save_pretrained``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if adapter.head is not None:
        save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in adapter.head.items()},
                  str(folder / "head.safetensors"))
    (folder / "task.json").write_text(json.dumps(adapter.task_json(), indent=2) + "\n")


def read_adapter_dir(folder: str | Path, labels: list[str] | None = None) -> AdapterDir:
    """Read an adapter folder (ours, or a PEFT LoRA folder); errors name the folder and problem.
    ``labels``: a PEFT TOKEN_CLS classifier's labels in output order (else its config.json's id2label)."""
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
        extra={k: v for k, v in meta.items() if k not in AdapterDir(task="lora").task_json() and k != "card"},
    )
    if "card" in meta:
        adapter.card = validate_card(meta["card"], f"adapter {task_path}")
    if has_peft:
        adapter.lora_config, adapter.lora_weights = read_peft_lora(folder)
        if not task_path.exists():
            split_peft_head(folder, adapter, labels)
    if labels is not None and task_path.exists():
        raise MtpfError(f"adapter {folder}: --labels is for a PEFT TOKEN_CLS folder; this one has task.json")
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
