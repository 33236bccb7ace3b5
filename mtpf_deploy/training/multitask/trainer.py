"""``adapt multitask``: train, select the epoch on dev (the report's total), test once, write one
adapter folder per task (``OUT/adapters/<task>/``; with ``--mode full`` also ``OUT/backbone/``)."""
from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr
from tqdm.auto import tqdm

from ...backbones import resolve_backbone
from ...data.tokenization import load_tokenizer, special_ids, truncated_rows
from ...errors import MtpfError
from ...formats.adapter_dir import AdapterDir, write_adapter_dir
from ...formats.atomic import atomic_dir
from ...formats.hashing import backbone_weights_sha256
from ..encoder import load_encoder
from ..features import pad_batch
from ..multi_objective.step import combination_weights, multi_objective_backward
from ..optimizers import make_optimizer
from ..subsets import subsample
from .config import MultitaskConfig
from .model import OUTPUT_KIND, STS_SCALE, MultitaskModel, task_loss
from .sampling import epoch_schedule
from .smart import ProximalAnchor, adversarial_smoothness, smoothness_loss

SST_ORDER = ["very negative", "negative", "neutral", "positive", "very positive"]
PARA_LABELS = ["not_paraphrase", "paraphrase"]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def _limited(records: list, limit: int, seed: int) -> list:
    """A seeded subset of ``limit`` records (all when ``limit`` is 0 or larger than the split)."""
    return records if not limit or limit >= len(records) else subsample(records, limit / len(records), seed)


class TaskData:
    """One task's split as padded-ready id rows and targets."""

    def __init__(self, task: str, records: list, tok, max_length: int, sst_labels: list[str]):
        self.task = task
        if task == "sst":
            self.rows, _ = truncated_rows(tok, [r.text for r in records], max_length)
            unknown = sorted({r.label for r in records} - set(sst_labels))
            if unknown:
                raise MtpfError(f"sst: label(s) {unknown} are not in the train split's labels {sst_labels}")
            self.target = torch.tensor([sst_labels.index(r.label) for r in records])
        else:
            self.rows, _ = truncated_rows(tok, [r.text_a for r in records] + [r.text_b for r in records], max_length)
            if task == "para":
                if any(r.label not in ("0", "1") for r in records):
                    raise MtpfError("para: labels must be '0' or '1'")
                self.target = torch.tensor([float(r.label == "1") for r in records])
            else:
                if any(r.score is None for r in records):
                    raise MtpfError("sts: every pair needs a score")
                self.target = torch.tensor([float(r.score) for r in records])
        self.n = len(records)

    def batch(self, idx: list[int], pad: int) -> dict:
        rows = [self.rows[i] for i in idx]
        if self.task != "sst":
            rows = rows + [self.rows[self.n + i] for i in idx]
        b = pad_batch(rows, pad)
        b["target"] = self.target[idx]
        return b


def task_metrics(task: str, outputs: np.ndarray, target: np.ndarray) -> dict:
    if task == "sst":
        return {"accuracy": float((outputs.argmax(-1) == target).mean()), "examples": int(len(target))}
    if task == "para":
        return {"accuracy": float(((outputs > 0) == (target > 0.5)).mean()), "examples": int(len(target))}
    return {"pearson": float(pearsonr(outputs, target)[0]), "spearman": float(spearmanr(outputs, target)[0]),
            "examples": int(len(target))}


def total_score(metrics: dict[str, dict]) -> float:
    """The report's total: mean(SST acc, PARA acc, (STS Pearson + 1) / 2) over the tasks trained."""
    parts = []
    for task, m in metrics.items():
        parts.append((m["pearson"] + 1) / 2 if task == "sts" else m["accuracy"])
    return float(np.mean(parts))


class MultitaskTrainer:
    def __init__(self, cfg: MultitaskConfig, splits: dict[str, dict[str, list]], log: Callable[[str], None] = print):
        cfg.validate()
        self.cfg, self.log = cfg, log
        torch.manual_seed(cfg.seed)
        self.rng = random.Random(cfg.seed)
        self.backbone_dir = resolve_backbone(cfg.backbone)
        self.tok = load_tokenizer(self.backbone_dir)
        _, _, self.pad = special_ids(self.tok)
        limits = cfg.train_limits()
        train = {t: _limited(splits[t]["train"], limits[t], cfg.seed) for t in cfg.tasks}
        present = sorted({r.label for r in train["sst"]}) if "sst" in cfg.tasks else []
        self.sst_labels = [x for x in SST_ORDER if x in present] + [x for x in present if x not in SST_ORDER]
        self.data = {s: {t: TaskData(t, train[t] if s == "train" else splits[t][s], self.tok, cfg.max_length,
                                     self.sst_labels)
                         for t in cfg.tasks if s == "train" or s in splits[t]}
                     for s in ("train", "dev", "test")}
        self.model = MultitaskModel(load_encoder(self.backbone_dir, cfg.device), cfg, max(len(self.sst_labels), 1)).to(cfg.device)
        self.trainable = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
        heads = [p for n, p in self.trainable.items() if n.startswith("heads.")]
        body = [p for n, p in self.trainable.items() if not n.startswith("heads.")]
        self.shared = body if cfg.mode != "lora-per-task" else []
        self.optimizer = make_optimizer(cfg.optimizer, [{"params": body, "lr": cfg.lr},
                                                        {"params": heads, "lr": cfg.head_lr}], cfg.lr, cfg.weight_decay)
        self.anchor = ProximalAnchor(self.trainable, cfg.bregman_beta) if cfg.bregman_weight > 0 else None
        self.generator = torch.Generator().manual_seed(cfg.seed)

    # ------------------------------------------------------------------ one step
    def _anchored_outputs(self, batches: list[tuple[str, dict]]) -> list[torch.Tensor | None]:
        """f(x; θ̃) for each (task, batch) of a step, all before any graph of the step is built (the
        swap changes the parameters in place, which would break a graph that saved them)."""
        if self.anchor is None:
            return [None] * len(batches)
        outs = []
        with self.anchor.swapped_in(self.trainable), torch.no_grad():
            for task, b in batches:
                self.model.activate(task)
                mask = b["attention_mask"].to(self.cfg.device)
                outs.append(self.model(task, self.model.embeddings(b["input_ids"].to(self.cfg.device)), mask))
        return outs

    def _task_objective(self, task: str, b: dict, anchored: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Task loss + λ_s R_s + μ D_Breg for one batch (with graphs); ``anchored``: f(x; θ̃) of the batch."""
        cfg, model = self.cfg, self.model
        if anchored is None and self.anchor is not None:
            (anchored,) = self._anchored_outputs([(task, b)])
        model.activate(task)
        ids, mask, target = b["input_ids"].to(cfg.device), b["attention_mask"].to(cfg.device), b["target"].to(cfg.device)
        embeds = model.embeddings(ids)
        outputs = model(task, embeds, mask)
        loss = task_loss(task, outputs, target)
        parts = {f"loss_{task}": float(loss.detach())}
        kind = OUTPUT_KIND[task]
        if cfg.smart_weight > 0:
            r_s = adversarial_smoothness(lambda e: model(task, e, mask), embeds, outputs, kind, cfg.smart_epsilon,
                                         cfg.smart_step_size, cfg.smart_steps, cfg.smart_noise, generator=self.generator)
            loss = loss + cfg.smart_weight * r_s
            parts[f"smart_{task}"] = float(r_s.detach())
        if anchored is not None:
            breg = smoothness_loss(outputs, anchored, kind)
            loss = loss + cfg.bregman_weight * breg
            parts[f"bregman_{task}"] = float(breg.detach())
        return loss, parts

    def train_step(self, step: list[tuple[str, list[int]]]) -> dict[str, float]:
        cfg = self.cfg
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        losses, stats = {}, {}
        batches = [(task, self.data["train"][task].batch(idx, self.pad)) for task, idx in step]
        for (task, b), anchored in zip(batches, self._anchored_outputs(batches)):
            losses[task], parts = self._task_objective(task, b, anchored)
            stats.update(parts)
        weights, total = combination_weights(losses, cfg.loss, tuple(cfg.focus))
        # each graph already routes through its task's LoRA; PCGrad on the shared parameters
        multi_objective_backward(list(losses), lambda task, w: (losses[task] * w).backward(), weights, self.shared,
                                 cfg.pcgrad, random.Random(f"{cfg.seed}:pcgrad:{self.rng.random()}") if cfg.pcgrad
                                 else random.Random(0))
        if cfg.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(list(self.trainable.values()), cfg.clip_grad_norm)
        if self.anchor is not None:  # θ̃_t from θ_{t-1}, the parameters before this update
            self.anchor.update(self.trainable)
        self.optimizer.step()
        stats["loss"] = total
        return stats

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def predict(self, task: str, data: TaskData, batch_size: int = 128) -> np.ndarray:
        self.model.eval()
        self.model.activate(task)
        out = []
        for i in range(0, data.n, batch_size):
            b = data.batch(list(range(i, min(i + batch_size, data.n))), self.pad)
            mask = b["attention_mask"].to(self.cfg.device)
            out.append(self.model(task, self.model.embeddings(b["input_ids"].to(self.cfg.device)), mask).cpu().numpy())
        return np.concatenate(out)

    def evaluate(self, split: str) -> dict:
        metrics = {t: task_metrics(t, self.predict(t, d), d.target.numpy()) for t, d in self.data[split].items()}
        return {**metrics, "total": total_score(metrics)} if metrics else {}

    # ------------------------------------------------------------------ run
    def fit(self) -> dict:
        cfg = self.cfg
        sizes = {t: d.n for t, d in self.data["train"].items()}
        history, best, best_state = [], None, None
        for epoch in range(1, cfg.epochs + 1):
            steps = epoch_schedule(sizes, cfg.batch_size, cfg.task_sampling, self.rng)
            bar = tqdm(steps, desc=f"multitask epoch {epoch}/{cfg.epochs}", unit="step", leave=False)
            for step in bar:
                stats = self.train_step(step)
                bar.set_postfix({k: f"{v:.3f}" for k, v in stats.items() if k.startswith("loss")})
            dev = self.evaluate("dev")
            history.append({"epoch": epoch, "steps": len(steps), "dev": dev})
            self.log(f"epoch {epoch}: dev " + ", ".join(f"{t} {self._headline(m)}" for t, m in dev.items() if t != "total")
                     + f", total {dev.get('total', float('nan')):.4f}")
            if dev and (best is None or dev["total"] > best["dev"]["total"]):
                best = history[-1]
                best_state = {n: p.detach().clone() for n, p in self.trainable.items()}
        if best_state is not None:
            with torch.no_grad():
                for n, p in self.trainable.items():
                    p.copy_(best_state[n])
        test = self.evaluate("test")
        return {"best_epoch": best["epoch"] if best else cfg.epochs, "dev": best["dev"] if best else {}, "test": test,
                "history": history, "train_examples": sizes}

    @staticmethod
    def _headline(m: dict) -> str:
        return f"acc {m['accuracy']:.4f}" if "accuracy" in m else f"pearson {m['pearson']:.4f}"

    # ------------------------------------------------------------------ outputs
    def write(self, out: str | Path, metrics: dict, overwrite: bool = False) -> None:
        cfg, model = self.cfg, self.model
        with atomic_dir(out, overwrite) as tmp:
            if cfg.mode == "full":
                model.bert.save_pretrained(tmp / "backbone")
                for name in TOKENIZER_FILES:
                    if (self.backbone_dir / name).exists():
                        shutil.copy(self.backbone_dir / name, tmp / "backbone" / name)
                backbone = {"name": str(Path(out) / "backbone"), "weights_sha256": backbone_weights_sha256(tmp / "backbone")}
            else:
                backbone = {"name": str(cfg.backbone), "weights_sha256": backbone_weights_sha256(self.backbone_dir)}
            for task in cfg.tasks:
                folder = tmp / "adapters" / task
                folder.mkdir(parents=True)
                if cfg.mode != "full":
                    name = task if cfg.mode == "lora-per-task" else "default"
                    model.encoder.save_pretrained(tmp / "_peft", selected_adapters=[name])
                    src = tmp / "_peft" / name if name != "default" else tmp / "_peft"
                    for f in ("adapter_config.json", "adapter_model.safetensors"):
                        shutil.move(str(src / f), folder / f)
                    shutil.rmtree(tmp / "_peft")
                write_adapter_dir(folder, self._adapter_dir(task, backbone))
            (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
            (tmp / "config.json").write_text(json.dumps({"command": "adapt multitask", **cfg.to_dict()}, indent=2) + "\n")

    def _adapter_dir(self, task: str, backbone: dict) -> AdapterDir:
        heads = self.model.heads
        common = {"pooling": "mean", "normalize": True, "max_length": self.cfg.max_length, "backbone": backbone,
                  "extra": {"trained_by": "adapt multitask"}}
        if task == "sst":
            head = {"weight": heads["sst"].weight.detach().cpu().numpy(), "bias": heads["sst"].bias.detach().cpu().numpy()}
            return AdapterDir(task="tc", labels=self.sst_labels, head=head, head_kind="linear", **common)
        if task == "para":  # one logit -> two softmax rows [-z/2, z/2] (softmax of them = sigmoid of z)
            w, b = heads["para"].weight.detach().cpu().numpy(), heads["para"].bias.detach().cpu().numpy()
            head = {"weight": np.concatenate([-w / 2, w / 2]), "bias": np.concatenate([-b / 2, b / 2])}
            return AdapterDir(task="pair-tc", labels=PARA_LABELS, head=head, head_kind="linear", **common)
        head = {"weight": np.array([[STS_SCALE]], np.float32), "bias": np.zeros(1, np.float32)}
        return AdapterDir(task="sts", labels=["score"], head=head, head_kind="cosine", **common)


def load_multitask_splits(tasks: list[str], data_root: str | Path | None) -> dict[str, dict[str, list]]:
    """train/dev/test of each task's registered dataset (SST-5, MRPC, STS-B) under ``data_root``."""
    from ...data.registry import load_split, split_names
    from .config import DATASETS

    if data_root is None:
        raise MtpfError("adapt multitask needs --data-root (the folder holding sst5/, mrpc/ and stsb/)")
    out = {}
    for task in tasks:
        name = DATASETS[task]
        out[task] = {s: load_split(name, s, data_root) for s in ("train", "dev", "test") if s in split_names(name)}
    return out


def adapt_multitask(cfg: MultitaskConfig, splits: dict[str, dict[str, list]], out: str | Path, overwrite: bool = False,
                    log: Callable[[str], None] = print) -> dict:
    """Train the tasks of ``cfg`` together; write the adapters; return dev (best epoch) and test metrics."""
    trainer = MultitaskTrainer(cfg, splits, log)
    metrics = trainer.fit()
    trainer.write(out, metrics, overwrite)
    return metrics
