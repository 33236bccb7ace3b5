"""The migrated adapter while it learns: the new backbone with a LoRA on the old adapter's slots (its rank and
alpha; initialised from the new backbone's task-primary LoRA where one exists) and a head of the old one's
kind, trained to match the teacher (soft cross-entropy on label distributions; squared error on sts scores)."""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from peft import PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

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
    """The student for an adapter file's ``manifest`` (and its head, which only sts keeps: its scale). A
    head-only tc adapter embeds, on the new backbone, with the new backbone's task-primary LoRA when there
    is one (frozen: as ``adapt tc --embed-adapter`` does)."""
    encoder = load_encoder(backbone)
    layout = lora_layout(manifest)
    model: torch.nn.Module = encoder
    if layout is None and manifest["task"] == "tc" and init_adapter is not None \
            and (init_adapter / "adapter_config.json").is_file():
        model = PeftModel.from_pretrained(encoder, init_adapter)
        log(f"embedding with {init_adapter} (frozen), as adapt tc --embed-adapter")
    elif layout is not None:
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


STRENGTHS = (1.0, 10.0, 100.0)  # logistic regression's C (inverse L2 strength) tried by ``soft_logreg_head``


def fit_soft_head(x: np.ndarray, soft: np.ndarray, c: float, seed: int, floor: float) -> dict[str, np.ndarray]:
    """One logistic regression at L2 strength ``c`` to soft targets, as a [C, H] softmax head."""
    rows, cols = np.nonzero(soft >= floor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(x[rows], cols,
                                                                             sample_weight=soft[rows, cols])
    weight = np.zeros((soft.shape[1], x.shape[1]), np.float32)
    bias = np.zeros(soft.shape[1], np.float32)
    coef, intercept = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:  # two labels seen: binary logistic regression as a two-row softmax
        coef, intercept = np.concatenate([-coef / 2, coef / 2]), np.concatenate([-intercept / 2, intercept / 2])
    seen = clf.classes_.astype(int)
    weight[seen], bias[seen] = coef, intercept
    bias[np.setdiff1d(np.arange(soft.shape[1]), seen)] = float(intercept.min()) - 10.0
    return {"weight": weight, "bias": bias}


def soft_cross_entropy(x: np.ndarray, soft: np.ndarray, head: dict[str, np.ndarray]) -> float:
    """Mean cross-entropy of ``head``'s softmax on ``x`` to the distributions ``soft``."""
    logits = x @ head["weight"].T + head["bias"]
    logits -= logits.max(1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    return float(-(soft * logp).sum(1).mean())


def soft_logreg_head(x: np.ndarray, soft: np.ndarray, seed: int, floor: float = 0.01,
                     strengths: tuple[float, ...] = STRENGTHS) -> tuple[dict[str, np.ndarray], dict]:
    """A softmax head [C, H] fitted by logistic regression (``adapt tc``'s classifier) to soft targets: each
    input once per label it gives at least ``floor`` probability, weighted by that probability (the soft
    cross-entropy plus an L2 penalty). The penalty is chosen without labels: the one whose head, fitted on
    80 % of the inputs, has the lowest soft cross-entropy to the teacher on the other 20 %; then refitted
    on all. Labels no input gives ``floor`` get a zero row and a bias below every other. Returns the head
    and the selection (each C's validation cross-entropy, the chosen C)."""
    order = np.random.default_rng(seed).permutation(len(x))
    val, fit = order[: max(1, len(x) // 5)], order[max(1, len(x) // 5):]
    scores = {c: soft_cross_entropy(x[val], soft[val], fit_soft_head(x[fit], soft[fit], c, seed, floor))
              for c in strengths} if len(fit) >= 2 and len(strengths) > 1 else {}
    best = min(scores, key=lambda c: scores[c]) if scores else strengths[0]
    return fit_soft_head(x, soft, best, seed, floor), {"C": best, "validation_cross_entropy": scores}


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
