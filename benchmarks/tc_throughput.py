"""Training throughput of the TC objective (InfoNCE, in-batch negatives) vs sentence-transformers'
MultipleNegativesRankingLoss trained with ``SentenceTransformer.fit`` on the same model, batch, length
and pairs. Measured side by side in one process; steady state only (steps after the warm-up).

    .venv/bin/python benchmarks/tc_throughput.py --data-root ../shared/data --steps 25 --batch-size 64

Writes docs/benchmarks/tc_throughput.json and .png; prints a markdown row for docs/benchmarks.md."""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from mtpf_deploy.backbones import resolve_backbone
from mtpf_deploy.training.pretrain.config import PretrainConfig
from mtpf_deploy.training.pretrain.pair_sources import load_pair_sources
from mtpf_deploy.training.pretrain.trainer import Pretrainer

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks"


def ours(args, run_dir: Path) -> dict:
    cfg = PretrainConfig(strategy="pf-tc", backbone=args.backbone, data_root=args.data_root, pairs=["stsb", "mrpc"],
                         steps=args.steps, tc_batch_size=args.batch_size, max_length=args.max_length, backbone_lr=2e-5,
                         clip_grad_norm=1.0, seed=0, dataset_weighting="size")
    trainer = Pretrainer(cfg, run_dir, log=lambda m: None)
    stamps = []
    for _ in range(args.steps):
        trainer.train_step(["tc"])
        stamps.append(time.perf_counter())
    return _rate(stamps, args)


def sentence_transformers_fit(args) -> dict:
    """``fit`` has no per-step hook, so time a fit of ``warmup`` steps and one of ``steps`` steps on fresh
    models and take the difference: set-up costs cancel, the extra steps are steady state."""
    from sentence_transformers import InputExample, SentenceTransformer, losses
    from torch.utils.data import DataLoader

    pairs = [p for ps in load_pair_sources(["stsb", "mrpc"], args.data_root).values() for p in ps]
    examples = [InputExample(texts=[a, b]) for a, b in pairs]

    def timed_fit(steps: int) -> float:
        torch.manual_seed(0)
        model = SentenceTransformer(str(resolve_backbone(args.backbone)), device="cpu")
        model.max_seq_length = args.max_length
        loader = DataLoader(examples, shuffle=True, batch_size=args.batch_size, drop_last=True)
        loss = losses.MultipleNegativesRankingLoss(model, scale=1 / 0.05)  # scale 20 == temperature 0.05
        start = time.perf_counter()
        model.fit(train_objectives=[(loader, loss)], epochs=1, steps_per_epoch=steps, warmup_steps=0,
                  optimizer_params={"lr": 2e-5}, show_progress_bar=False, max_grad_norm=1.0)
        return time.perf_counter() - start

    short, full = timed_fit(args.warmup), timed_fit(args.steps)
    steps = args.steps - args.warmup
    return {"steps_timed": steps, "seconds": full - short, "pairs_per_s": steps * args.batch_size / (full - short)}


def _rate(stamps: list[float], args) -> dict:
    warm = args.warmup
    span = stamps[-1] - stamps[warm - 1]
    steps = len(stamps) - warm
    return {"steps_timed": steps, "seconds": span, "pairs_per_s": steps * args.batch_size / span}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backbone", default="default")
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-length", type=int, default=64)
    args = ap.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        mine = ours(args, Path(tmp) / "run")
    st = sentence_transformers_fit(args)
    result = {"model": args.backbone, "batch_size": args.batch_size, "max_length": args.max_length,
              "steps": args.steps, "warmup_steps": args.warmup, "threads": torch.get_num_threads(),
              "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
              "mtpf_deploy": mine, "sentence_transformers_mnrl_fit": st,
              "ratio": mine["pairs_per_s"] / st["pairs_per_s"]}
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "tc_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    _plot(result)
    print(json.dumps(result, indent=2))
    print(f"| {args.backbone} | {args.batch_size} | {args.max_length} | {mine['pairs_per_s']:.1f} | "
          f"{st['pairs_per_s']:.1f} | {result['ratio']:.2f} |")


def _plot(result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["mtpf-deploy InfoNCE", "sentence-transformers\nMNRL fit"]
    values = [result["mtpf_deploy"]["pairs_per_s"], result["sentence_transformers_mnrl_fit"]["pairs_per_s"]]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.bar(names, values, color=["#3b7dd8", "#999999"])
    ax.set_ylabel("training pairs / s")
    ax.set_title(f"TC objective, batch {result['batch_size']}, length {result['max_length']}, CPU")
    for i, v in enumerate(values):
        ax.text(i, v, f"{v:.0f}", ha="center", va="bottom")
    fig.tight_layout()
    fig.savefig(DOCS / "tc_throughput.png", dpi=120)


if __name__ == "__main__":
    main()
