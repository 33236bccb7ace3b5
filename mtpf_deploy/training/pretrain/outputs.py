"""The run folder ``pretrain`` writes: ``backbone/`` (Hugging Face folder), ``adapters/<task>/``
(PEFT, task-primary), ``heads/`` (the NER pseudo-label head), ``config.{json,toml}``."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from safetensors.torch import save_file
from transformers import BertModel

from ...formats.adapter_dir import AdapterDir, write_adapter_dir
from ...formats.atomic import atomic_dir
from ...formats.hashing import backbone_weights_sha256
from .config import PretrainConfig
from .model import PretrainModel

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def write_config(run_dir: Path, cfg: PretrainConfig) -> None:
    """``config.json`` (compared on resume) and ``config.toml`` (loadable with ``pretrain --config``)."""
    import tomli_w

    data = cfg.to_dict()
    (run_dir / "config.json").write_text(json.dumps(data, indent=2) + "\n")
    (run_dir / "config.toml").write_text(tomli_w.dumps({k: v for k, v in data.items() if v is not None}))


def write_backbone(run_dir: Path, model: PretrainModel, source_dir: Path) -> str:
    """``backbone/``: the trained encoder (``save_pretrained``) and the source tokenizer; returns its weights sha256."""
    config = BertModel.config_class.from_pretrained(source_dir)
    with atomic_dir(run_dir / "backbone", overwrite=True) as tmp:
        bert = BertModel(config, add_pooling_layer=False)
        bert.load_state_dict(model.backbone_state_dict())
        bert.save_pretrained(tmp)
        for name in TOKENIZER_FILES:
            if (source_dir / name).exists():
                shutil.copy(source_dir / name, tmp / name)
    return backbone_weights_sha256(run_dir / "backbone")


def write_task_primary_adapters(run_dir: Path, model: PretrainModel, cfg: PretrainConfig, sha: str,
                                layers: list[int] | None) -> None:
    """``adapters/<task>/``: each task-primary LoRA as a PEFT folder with our task.json."""
    for task in model.tasks:
        with atomic_dir(run_dir / "adapters" / task, overwrite=True) as tmp:
            model.encoder.save_pretrained(tmp / "_peft", selected_adapters=[task])
            for f in (tmp / "_peft" / task).iterdir():
                f.rename(tmp / f.name)
            shutil.rmtree(tmp / "_peft")
            write_adapter_dir(tmp, AdapterDir(
                task="lora", pooling="mean" if task == "tc" else None, normalize=task == "tc",
                max_length=cfg.max_length, task_primary=True,
                backbone={"name": str(run_dir / "backbone"), "weights_sha256": sha},
                extra={"family": task, "strategy": cfg.strategy, "layers": layers},
            ))


def write_ner_head(run_dir: Path, model: PretrainModel, labels: list[str]) -> None:
    """``heads/ner_pseudo.safetensors`` + its label list."""
    assert model.ner_head is not None
    with atomic_dir(run_dir / "heads", overwrite=True) as tmp:
        save_file({"weight": model.ner_head.weight.detach().cpu().contiguous(),
                   "bias": model.ner_head.bias.detach().cpu().contiguous()}, str(tmp / "ner_pseudo.safetensors"))
        (tmp / "ner_pseudo_labels.json").write_text(json.dumps(labels))
