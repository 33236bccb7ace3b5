"""Which part of `adapt ner`'s protocol costs F1 in the low-resource setting (issue 8): CoNLL-2003 at 1 %
of train, the default backbone, LoRA r32/α64 (query/key/MLP) + head, batch 64, 10 head-only + 30 joint
epochs; the variants differ only in the head's warm-up learning rate, the joint-phase schedule and
gradient clipping. Model selection on dev; test reported beside it. Resumable: one JSON per finished
(variant, seed) cell in docs/results/adapt_ner_protocol/, skipped when present.

    .venv/bin/python benchmarks/adapt_ner_protocol.py --data-root ../shared/data [--seeds 0,1]"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "docs" / "results" / "adapt_ner_protocol"
VARIANTS = {
    "defaults": {},
    "constant schedule": {"schedule": "constant"},
    "no clipping": {"clip_grad_norm": 0.0},
    "plain loop (constant 5e-4 for head and LoRA, no clipping)": {"schedule": "constant", "clip_grad_norm": 0.0,
                                                                 "head_lr": 5e-4},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--fraction", type=float, default=0.01)
    args = parser.parse_args()

    from mtpf_deploy.data.registry import load_split
    from mtpf_deploy.training.adapt.config import NerAdaptConfig
    from mtpf_deploy.training.adapt.ner import adapt_ner

    splits = {s: load_split("conll2003", s, args.data_root) for s in ("train", "dev", "test")}
    OUT.mkdir(parents=True, exist_ok=True)
    for seed in [int(s) for s in args.seeds.split(",")]:
        for i, (name, options) in enumerate(VARIANTS.items()):
            cell = OUT / f"v{i}_seed{seed}.json"
            if cell.exists():
                continue
            cfg = NerAdaptConfig(train_fraction=args.fraction, seed=seed, **options)
            start = time.time()
            with tempfile.TemporaryDirectory() as tmp:
                metrics = adapt_ner(cfg, splits, Path(tmp) / "ner", log=print)
            result = {"variant": name, "options": options, "seed": seed, "train_fraction": args.fraction,
                      "train_sentences": metrics["train_sentences"], "dev_f1": metrics["dev"]["f1"],
                      "test_f1": metrics["test"]["f1"], "seconds": time.time() - start,
                      "command": f"benchmarks/adapt_ner_protocol.py --seeds {seed} --fraction {args.fraction}"}
            cell.write_text(json.dumps(result, indent=2) + "\n")
            print(json.dumps(result))


if __name__ == "__main__":
    main()
