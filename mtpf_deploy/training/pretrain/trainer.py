"""``mtpf-deploy pretrain``: PF-TC, PF-NER, naive MTPF, MTPF-TPL and PF-L (paper Sec. 4-6, App. B).

One step = the tasks the schedule picks (``alternate`` / ``round-robin`` / ``proportional``); each
task's loss is computed with its own LoRA active; the losses are combined (``sum`` / ``gls`` / ``fls``)
by weighting each task's backward with d(total)/d(L_task), so GradCache and PCGrad compose with any
combination. Under ``torchrun`` the model is wrapped in DDP; a step runs several backward passes
(tasks, GradCache chunks), all inside ``no_sync``, and the gradients are then averaged with one
``all_reduce`` per parameter before clipping and the optimizer step."""
from __future__ import annotations

import json
import random
import shutil
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from ...backbones import resolve_backbone
from ...data.pseudo_corpus import read_pseudo_corpus
from ...data.tokenization import load_tokenizer, special_ids, truncated_rows
from ...errors import MtpfError
from ..encoder import load_encoder
from ..multi_objective.step import combination_weights, multi_objective_backward
from ..optimizers import make_optimizer
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .config import STRATEGIES, PretrainConfig
from .distributed import Distributed
from .gradcache import CachedContrastive
from .model import PretrainModel
from .objectives import info_nce, objective_of
from .outputs import write_backbone, write_config, write_ner_head, write_task_primary_adapters
from .pair_sources import load_pair_sources
from .sampling import EpochSampler, HierarchicalSampler, tasks_for_step


class Pretrainer:
    """Holds data, model, optimizer and samplers; ``run()`` trains and writes the run folder."""

    def __init__(self, cfg: PretrainConfig, run_dir: Path, log=print):
        cfg.validate()
        self.cfg, self.run_dir, self.log = cfg, Path(run_dir), log
        self.dist = Distributed(cfg.device)
        torch.manual_seed(cfg.seed)
        self.tasks = cfg.active_tasks()
        strategy = STRATEGIES[cfg.strategy]
        self.backbone_dir = resolve_backbone(cfg.backbone)
        self.tok = load_tokenizer(self.backbone_dir)
        self.cls, self.sep, self.pad = special_ids(self.tok)
        self.sizes: dict[str, int] = {}
        if "tc" in self.tasks:
            self.pairs = load_pair_sources(cfg.pairs, cfg.data_root, [Path(p) for p in cfg.pair_files],
                                           Path(cfg.simcse_corpus) if cfg.simcse_corpus else None)
            self.tc_sampler = HierarchicalSampler({k: len(v) for k, v in self.pairs.items()}, cfg.tc_batch_size,
                                                  cfg.seed, cfg.dataset_weighting)
            self.sizes["tc"] = sum(len(v) for v in self.pairs.values())
        self.ner_labels: list[str] = []
        if "ner" in self.tasks:
            self.ner_sentences, self.ner_labels = read_pseudo_corpus(cfg.ner_corpus)
            self.ner_sampler = EpochSampler(len(self.ner_sentences), cfg.ner_batch_size, f"{cfg.seed}:ner")
            self.sizes["ner"] = len(self.ner_sentences)
        layers = None
        n_layers = json.loads((self.backbone_dir / "config.json").read_text())["num_hidden_layers"]
        if cfg.lora_layers != "all":
            k = int(cfg.lora_layers)
            if k > n_layers:
                raise MtpfError(f"--lora-layers must be 'all' or 1..{n_layers}, not {cfg.lora_layers}")
            layers = list(range(n_layers - k, n_layers))
        lora = ({"r": cfg.lora_r, "alpha": cfg.lora_alpha, "targets": cfg.lora_targets, "layers": layers,
                 "dropout": cfg.lora_dropout} if strategy["lora"] else None)
        self.lora_layers = layers
        self.model = PretrainModel(load_encoder(self.backbone_dir), self.tasks, len(self.ner_labels), lora,
                                   strategy["freeze"]).to(cfg.device)
        groups = self.model.parameter_groups()
        self.shared = groups["backbone"]
        self.trainable = [p for ps in groups.values() for p in ps]
        param_groups = [{"params": groups["backbone"], "lr": cfg.backbone_lr},
                        {"params": groups["lora"] + groups["head"], "lr": cfg.lora_lr}]
        self.optimizer = make_optimizer(cfg.optimizer, [g for g in param_groups if g["params"]], cfg.backbone_lr,
                                        cfg.weight_decay)
        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, cfg.warmup_steps, cfg.steps)
        self.ddp = None
        if self.dist.world > 1:
            self.ddp = torch.nn.parallel.DistributedDataParallel(self.model)  # broadcasts rank 0's weights
        self.step = 0

    # ----------------------------------------------------------------- what the objectives use
    def rows(self, texts: list[str]) -> list[list[int]]:
        return truncated_rows(self.tok, texts, self.cfg.max_length)[0]

    def _no_sync(self):
        return self.ddp.no_sync() if self.ddp is not None else nullcontext()

    def forward(self, task: str, batch: dict) -> torch.Tensor:
        return self.ddp(task, batch) if self.ddp is not None else self.model(task, batch)

    def info_nce(self, anchors: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        """InfoNCE over the global batch. Every rank computes the same loss; the all-gather's backward
        sums each rank's share, and the gradient average over ranks then gives exactly its gradient."""
        return info_nce(self.dist.gather(anchors), self.dist.gather(positives), self.cfg.temperature)

    # ----------------------------------------------------------------- one step
    def train_step(self, tasks: list[str]) -> dict[str, float]:
        """One optimizer step over ``tasks``; returns each loss and the combined loss."""
        cfg = self.cfg
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        objectives = {t: objective_of(t) for t in tasks}
        batches = {t: objectives[t].batch(self) for t in tasks}
        cached = {t for t in tasks if objectives[t].contrastive and cfg.tc_chunk_size
                  and batches[t][0]["input_ids"].shape[0] > cfg.tc_chunk_size}
        # 1) loss values (with graphs, except a GradCache'd contrastive loss, which is replayed in chunks)
        losses: dict[str, torch.Tensor] = {}
        with self._no_sync():
            for t in tasks:
                if t not in cached:
                    losses[t] = objectives[t].loss(self, t, batches[t])
        caches: dict[str, CachedContrastive] = {}
        for t in sorted(cached):  # GradCache: embeddings without a graph first, the graph is replayed per chunk
            with self._no_sync():
                caches[t] = CachedContrastive(lambda b, t=t: self.forward(t, b), list(batches[t]), cfg.tc_chunk_size)
            losses[t] = caches[t].loss(self.info_nce)
        # 2) weights d(total)/d(L_t) at the current values; 3) per-task backward passes inside no_sync
        weights, total = combination_weights({t: losses[t] for t in tasks}, cfg.loss, tuple(cfg.focus))

        def backward(task: str, weight: float) -> None:
            with self._no_sync():
                if task in caches:
                    caches[task].backward(losses[task], weight)
                else:
                    (losses[task] * weight).backward()

        def all_reduce_mean(g: torch.Tensor) -> None:
            dist.all_reduce(g)
            g /= self.dist.world

        multi_objective_backward(tasks, backward, weights, self.shared, cfg.pcgrad,
                                 random.Random(f"{cfg.seed}:pcgrad:{self.step}"),
                                 all_reduce_mean if self.dist.world > 1 else None)
        if cfg.pcgrad:  # the shared gradients are averaged already
            shared = {id(p) for p in self.shared}
            self.dist.average_grads([p for p in self.trainable if id(p) not in shared])
        else:
            self.dist.average_grads(self.trainable)
        if cfg.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.trainable, cfg.clip_grad_norm)
        self.last_lr = self.optimizer.param_groups[0]["lr"]  # the rate this step used
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        out = {f"loss_{t}": float(losses[t].detach()) for t in tasks}
        out["loss"] = total
        return out

    # ----------------------------------------------------------------- state
    def sampler_state(self) -> dict:
        state = {}
        if "tc" in self.tasks:
            state["tc"] = self.tc_sampler.state_dict()
        if "ner" in self.tasks:
            state["ner"] = self.ner_sampler.state_dict()
        return state

    def load_sampler_state(self, state: dict) -> None:
        if "tc" in state:
            self.tc_sampler.load_state_dict(state["tc"])
        if "ner" in state:
            self.ner_sampler.load_state_dict(state["ner"])

    def resume(self) -> None:
        ckpt = latest_checkpoint(self.run_dir / "checkpoints")
        if ckpt is None:
            raise MtpfError(f"--resume: no checkpoint under {self.run_dir / 'checkpoints'}")
        saved = json.loads((self.run_dir / "config.json").read_text())
        mine = json.loads(json.dumps(self.cfg.to_dict()))
        diff = sorted(k for k in mine if k not in ("steps", "checkpoint_every", "keep_checkpoints", "device")
                      and saved.get(k) != mine[k])
        if diff:
            raise MtpfError(f"--resume: settings differ from the run's config.json: {', '.join(diff)}")
        state = load_checkpoint(ckpt, self.model, self.optimizer)
        self.step = int(state["step"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.load_sampler_state(state["samplers"])
        self.log(f"resumed from {ckpt.name} (step {self.step})")

    # ----------------------------------------------------------------- run
    def run(self, resume: bool = False, overwrite: bool = False, stop_after: int | None = None) -> Path:
        """Train to ``cfg.steps`` (or stop early after ``stop_after`` steps, as an interruption would)."""
        cfg, main = self.cfg, self.dist.main
        if resume:
            self.resume()
        elif main:
            if self.run_dir.exists() and any(self.run_dir.iterdir()):
                if not overwrite:
                    raise MtpfError(f"{self.run_dir} already exists (pass --resume to continue or --overwrite)")
                shutil.rmtree(self.run_dir)
            self.run_dir.mkdir(parents=True)
            write_config(self.run_dir, cfg)
        if main and resume:
            drop_records_after(self.run_dir / "log.jsonl", self.step)
        log_file = open(self.run_dir / "log.jsonl", "a") if main else None
        bar = tqdm(total=cfg.steps, initial=self.step, desc=f"pretrain {cfg.strategy}", unit="step",
                   disable=not main, dynamic_ncols=True)
        t0 = time.perf_counter()
        end = cfg.steps if stop_after is None else min(cfg.steps, self.step + stop_after)
        while self.step < end:
            tasks = tasks_for_step(self.step, self.tasks, cfg.task_sampling, self.sizes, cfg.seed)
            start = time.perf_counter()
            stats = self.train_step(tasks)
            examples = sum(cfg.tc_batch_size if t == "tc" else cfg.ner_batch_size for t in tasks)
            record = {"step": self.step, "tasks": tasks, **stats, "lr": self.last_lr,
                      "examples_per_s": examples / (time.perf_counter() - start),
                      "elapsed_s": time.perf_counter() - t0}
            if main:
                log_file.write(json.dumps(record) + "\n")
                log_file.flush()
                bar.update(1)
                bar.set_postfix({k: f"{v:.3f}" for k, v in stats.items()} | {"ex/s": f"{record['examples_per_s']:.0f}"})
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    save_checkpoint(self.run_dir / "checkpoints", self.step, self.model, self.optimizer,
                                    {"samplers": self.sampler_state(), "scheduler": self.scheduler.state_dict()}, cfg.keep_checkpoints)
        bar.close()
        if log_file:
            log_file.close()
        if main and self.step >= cfg.steps:
            self.write_outputs()
        self.dist.close()
        return self.run_dir

    def write_outputs(self) -> None:
        """backbone/, adapters/<task>/ (task-primary LoRAs), heads/ (see outputs.py)."""
        sha = write_backbone(self.run_dir, self.model, self.backbone_dir)
        if self.model.has_lora:
            write_task_primary_adapters(self.run_dir, self.model, self.cfg, sha, self.lora_layers)
        if self.model.ner_head is not None:
            write_ner_head(self.run_dir, self.model, self.ner_labels)
        self.log(f"wrote {self.run_dir}: backbone/" + (", adapters/" + ", adapters/".join(self.tasks)
                                                          if self.model.has_lora else ""))


def drop_records_after(log_path: Path, step: int) -> None:
    """Keep the log records of steps <= ``step`` (a resumed run redoes the steps after its checkpoint)."""
    lines = log_path.read_text().splitlines(keepends=True) if log_path.exists() else []
    kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= step]
    if len(kept) != len(lines):
        tmp = log_path.with_name(log_path.name + ".tmp")
        tmp.write_text("".join(kept))
        tmp.replace(log_path)
