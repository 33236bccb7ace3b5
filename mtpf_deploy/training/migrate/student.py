"""The migrated adapter while it learns: the new backbone with a LoRA on the old adapter's slots (its rank and
alpha; initialised from the new backbone's task-primary LoRA where one exists) and a head of the old one's
kind, trained to match the teacher (soft cross-entropy on label distributions; squared error on sts scores)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from peft import get_peft_model
from safetensors.torch import load_file, save_file

from ...data.tokenization import content_window, encode_text_with_spans, load_tokenizer, special_ids
from ...formats.atomic import atomic_dir
from ..encoder import load_encoder, lora_config, mean_pool
from ..features import pad_batch
from .teacher import Targets


class Student(torch.nn.Module):
    """Encoder (with LoRA) + the task's head: ner per token, tc on the pooled text, pair-tc on
    [u, v, |u - v|, u * v], sts a scaled cosine."""

    def __init__(self, encoder: torch.nn.Module, task: str, labels: int, normalize: bool):
        super().__init__()
        self.encoder, self.task, self.normalize = encoder, task, normalize
        hidden = encoder.config.hidden_size
        width = {"ner": hidden, "tc": hidden, "pair-tc": 4 * hidden, "sts": 1}[task]
        self.head = torch.nn.Linear(width, 1 if task == "sts" else labels)

    def pooled(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        p = mean_pool(self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state, mask)
        return torch.nn.functional.normalize(p, dim=-1) if self.normalize else p

    def forward(self, batch: dict) -> torch.Tensor:
        if self.task == "ner":
            return self.head(self.encoder(input_ids=batch["ids"], attention_mask=batch["mask"]).last_hidden_state)
        if self.task == "tc":
            return self.head(self.pooled(batch["ids"], batch["mask"]))
        u, v = self.pooled(batch["ids"], batch["mask"]), self.pooled(batch["ids_b"], batch["mask_b"])
        if self.task == "pair-tc":
            return self.head(torch.cat([u, v, (u - v).abs(), u * v], -1))
        cos = torch.nn.functional.cosine_similarity(u, v, dim=-1)
        return cos * self.head.weight[0, 0] + self.head.bias[0]


def lora_layout(manifest: dict) -> tuple[list[str], list[int], int, float] | None:
    """(families, layers, rank, alpha) of an adapter file's LoRA, from its manifest (None: head only)."""
    lora = manifest.get("lora")
    if not lora:
        return None
    slots = [s.split(".") for s in lora["slots"] if s.endswith(".lora_A")]
    families = sorted({s[2] for s in slots})
    layers = sorted({int(s[1]) for s in slots})
    return families, layers, int(lora["rank"]), float(lora["alpha"] or 2 * lora["rank"])


def build_student(backbone: Path, manifest: dict, head: dict | None, init_adapter: Path | None, log) -> Student:
    """The student for an adapter file's ``manifest`` (and its head, which only sts keeps: its scale)."""
    encoder = load_encoder(backbone)
    layout = lora_layout(manifest)
    model: torch.nn.Module = encoder
    if layout is not None:
        families, layers, rank, alpha = layout
        model = get_peft_model(encoder, lora_config(rank, int(alpha), families, layers, 0.0))
        if init_adapter is not None:
            from ..adapt.init_lora import init_lora_from

            for line in init_lora_from(model, init_adapter).lines(f"init {init_adapter}"):  # type: ignore[arg-type]
                log(line)
    student = Student(model, manifest["task"], len(manifest["labels"]), bool(manifest["normalize"]))
    if manifest["task"] == "sts" and head is not None:
        with torch.no_grad():
            student.head.weight.copy_(torch.from_numpy(np.array(head["weight"])).reshape(1, 1))
            student.head.bias.copy_(torch.from_numpy(np.array(head["bias"])).reshape(1))
    return student


@dataclass
class Example:
    ids: list[int]
    ids_b: list[int] | None = None
    positions: list[int] | None = None  # ner: the row position of each target word's first sub-word
    words: list[int] | None = None  # ner: which of the teacher's words those are


def examples(backbone: Path, targets: Targets, max_length: int) -> list[Example]:
    """The new tokenizer's rows of each input; for ner the teacher's words mapped by character span onto
    the new sub-words (words past the window are left out of the loss)."""
    tok = load_tokenizer(backbone)
    cls, sep, _ = special_ids(tok)
    window = content_window(max_length)
    out = []
    for text, spans in zip(targets.inputs, targets.spans):
        if targets.task == "ner":
            enc = encode_text_with_spans(tok, text, spans)
            first = [(t, w) for t, w in enc.first_subwords(window)]
            out.append(Example([cls, *enc.ids[:window], sep], positions=[t + 1 for t, _ in first],
                               words=[w for _, w in first]))
        elif targets.task == "tc":
            out.append(Example([cls, *tok.encode(text, add_special_tokens=False).ids[:window], sep]))
        else:
            a, b = (tok.encode(x, add_special_tokens=False).ids[:window] for x in text)
            out.append(Example([cls, *a, sep], [cls, *b, sep]))
    return out


def _pad(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    b = pad_batch(rows, pad)
    return b["input_ids"], b["attention_mask"]


def batch_loss(student: Student, batch: list[int], exs: list[Example], targets: Targets, pad: int) -> torch.Tensor:
    """Soft cross-entropy to the teacher's distributions (ner: over the words in the window), squared
    error to its sts scores."""
    ids, mask = _pad([exs[i].ids for i in batch], pad)
    feed = {"ids": ids, "mask": mask}
    if targets.task in ("pair-tc", "sts"):
        feed["ids_b"], feed["mask_b"] = _pad([exs[i].ids_b or [] for i in batch], pad)
    out = student(feed)
    if targets.task == "ner":
        rows, cols, soft = [], [], []
        for r, i in enumerate(batch):
            rows += [r] * len(exs[i].positions or [])
            cols += exs[i].positions or []
            soft.append(targets.soft[i][exs[i].words or []])
        if not rows:
            return out.sum() * 0.0
        logp = torch.log_softmax(out[torch.tensor(rows), torch.tensor(cols)], -1)
        return -(torch.from_numpy(np.concatenate(soft)) * logp).sum(-1).mean()
    soft_t = torch.from_numpy(np.stack([targets.soft[i] for i in batch]))
    if targets.task == "sts":
        return ((out - soft_t[:, 0]) ** 2).mean()
    return -(soft_t * torch.log_softmax(out, -1)).sum(-1).mean()


# ---------------------------------------------------------------------- checkpoints (no pickle)
def save_checkpoint(folder: Path, student: Student, optimizer: torch.optim.Optimizer, scheduler, epoch: int,
                    losses: list[float]) -> None:
    """The trainable weights, AdamW's moments and the schedule after ``epoch`` (safetensors + JSON)."""
    with atomic_dir(folder, overwrite=True) as tmp:
        save_file({n: p.detach().contiguous() for n, p in student.named_parameters() if p.requires_grad},
                  str(tmp / "weights.safetensors"))
        state = optimizer.state_dict()
        tensors = {f"{i}.{k}": v.contiguous() for i, s in state["state"].items() for k, v in s.items()
                   if isinstance(v, torch.Tensor)}
        if tensors:
            save_file(tensors, str(tmp / "optimizer.safetensors"))
        (tmp / "state.json").write_text(json.dumps({"epoch": epoch, "losses": losses,
                                                    "param_groups": state["param_groups"],
                                                    "scheduler": scheduler.state_dict()}))


def load_checkpoint(folder: Path, student: Student, optimizer: torch.optim.Optimizer, scheduler) -> tuple[int, list[float]]:
    """Restore what ``save_checkpoint`` wrote; returns (the epoch it ended, its losses)."""
    meta = json.loads((folder / "state.json").read_text())
    weights = load_file(str(folder / "weights.safetensors"))
    params = dict(student.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value)
    state: dict = {}
    if (folder / "optimizer.safetensors").is_file():
        for key, value in load_file(str(folder / "optimizer.safetensors")).items():
            index, name = key.split(".", 1)
            state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    scheduler.load_state_dict(meta["scheduler"])
    return int(meta["epoch"]), list(meta["losses"])
