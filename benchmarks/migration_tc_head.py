"""How a migrated head-only tc adapter's head is fitted (issue 27): on the teacher targets that
``benchmarks/migration.py`` cached for one Banking77 cell, logistic regressions on the new backbone's
embeddings (task-primary tc LoRA) — hard teacher labels and soft ones, for several L2 strengths — each
scored on the test split beside its soft cross-entropy to the teacher on 20 % held out (the label-free
criterion ``migrate`` selects C by). Accuracy only; no timing.

    .venv/bin/python benchmarks/migration_tc_head.py --data-root ../shared/data \\
        --cell bench_out/migration/forward__banking77__s0 --budget 5000 --new-run bench_out/migration/new_run"""
from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--cell", type=Path, required=True, help="a benchmarks/migration.py work folder (banking77)")
    ap.add_argument("--budget", type=int, default=5000)
    ap.add_argument("--new-run", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import migration as bench
    from peft import PeftModel
    from safetensors.numpy import load_file

    from mtpf_deploy.data.registry import load_split
    from mtpf_deploy.data.tokenization import load_tokenizer
    from mtpf_deploy.training.adapt.tc import embed_texts
    from mtpf_deploy.training.encoder import load_encoder
    from mtpf_deploy.training.migrate.config import MigrateConfig
    from mtpf_deploy.training.migrate.migrate import split_inputs
    from mtpf_deploy.training.migrate.student import fit_soft_head, soft_cross_entropy

    bench.DATA_ROOT = args.data_root
    soft = load_file(str(args.cell / f"migrate_{args.budget}" / "tc" / "teacher.safetensors"))["soft"]
    held = max(100, args.budget // 10)  # as benchmarks/migration.py splits
    cfg = MigrateConfig(from_bundle="-", to="-", texts="-", max_texts=args.budget + held,
                        heldout=held / (args.budget + held), seed=args.seed)
    train, _ = split_inputs(bench.unlabelled("banking77"), cfg)
    if len(train) != len(soft):
        raise SystemExit(f"{args.cell}: {len(soft)} cached targets, {len(train)} texts: another budget or seed")
    labels = json.loads((args.cell / "old_adapter" / "task.json").read_text())["labels"]
    backbone = args.new_run / "backbone"
    tok = load_tokenizer(backbone)
    encoder = PeftModel.from_pretrained(load_encoder(backbone), args.new_run / "adapters" / "tc")
    x = embed_texts(encoder, tok, train, 128, 64, True, desc="embedding texts")
    test = load_split("banking77", "test", args.data_root)
    tx = embed_texts(encoder, tok, [t.text for t in test], 128, 64, True, desc="embedding test")
    ty = np.array([labels.index(t.label) for t in test])
    order = np.random.default_rng(args.seed).permutation(len(x))
    val, fit = order[: len(x) // 5], order[len(x) // 5:]

    def accuracy(head: dict) -> float:
        return 100 * float(((tx @ head["weight"].T + head["bias"]).argmax(1) == ty).mean())

    print("| targets | C | test accuracy | soft CE to teacher, 20 % held out |\n|---|---|---|---|")
    hard = np.eye(soft.shape[1], dtype=np.float32)[soft.argmax(1)]
    for name, target in (("hard (teacher argmax)", hard), ("soft (teacher distribution)", soft)):
        for c in (1.0, 10.0, 100.0, 1000.0):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ce = soft_cross_entropy(x[val], soft[val], fit_soft_head(x[fit], target[fit], c, args.seed, 0.01))
                print(f"| {name} | {c:g} | {accuracy(fit_soft_head(x, target, c, args.seed, 0.01)):.2f} | {ce:.4f} |",
                      flush=True)


if __name__ == "__main__":
    main()
