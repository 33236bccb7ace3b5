"""What batch independence costs on an int8 bundle (issue 25), measured in one run, interleaved.

    taskset -c 0 .venv/bin/python benchmarks/batch_independence.py BUNDLE --data-root ../shared/data \
        [--texts 256] [--rounds 5] [--out docs/benchmarks/batch_independence.json]

ONNX Runtime's int8 graph quantizes activations dynamically with ONE scale per tensor, so a padded batch
gives each text numbers that depend on its neighbours. The runtime therefore runs an int8 bundle's rows
one by one (``Engine.rows_share_quantization``). For Banking77 test texts, ``embed`` at batch 8 and 32:
texts/s with rows one by one (what ships) and as one padded pass (what the runtime did before), in
alternating rounds; and how far the padded pass moves each text's embedding from its single-call value
(max |difference| and the lowest cosine)."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from mtpf_deploy.data.registry import load_split
from mtpf_deploy.runtime import SystemModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    system = SystemModel.load(args.bundle, threads=1)
    if not system.engine.rows_share_quantization:
        raise SystemExit(f"{args.bundle}: not an int8 ONNX bundle (its rows do not share quantization)")
    texts = [ex.text for ex in load_split("banking77", "test", args.data_root)[: args.texts]]
    single = system.embed(texts, batch_size=1)
    result: dict = {"bundle": str(args.bundle), "texts": len(texts), "rounds": args.rounds, "batches": {}}
    for batch in (8, 32):
        times: dict[str, list[float]] = {"rows one by one": [], "one padded pass": []}
        moved = None
        for r in range(args.rounds):
            order = ["rows one by one", "one padded pass"][:: 1 if r % 2 == 0 else -1]
            for mode in order:
                system.engine.rows_share_quantization = mode == "rows one by one"
                t0 = time.perf_counter()
                emb = system.embed(texts, batch_size=batch)
                times[mode].append(time.perf_counter() - t0)
                if mode == "one padded pass":
                    moved = emb
        system.engine.rows_share_quantization = True
        assert moved is not None
        cos = np.sum(moved * single, axis=1)
        result["batches"][batch] = {
            **{f"{mode} texts/s": round(len(texts) / float(np.median(t)), 1) for mode, t in times.items()},
            "padded pass max |diff| to single calls": float(np.abs(moved - single).max()),
            "padded pass lowest cosine to single calls": float(cos.min()),
        }
        print(batch, json.dumps(result["batches"][batch]))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
