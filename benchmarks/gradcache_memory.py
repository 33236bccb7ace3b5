"""Peak memory of one TC pre-finetuning step with a large batch, with and without GradCache.

    .venv/bin/python benchmarks/gradcache_memory.py --data-root ../shared/data --batch-size 1024 --chunk-size 64

Each configuration runs in a fresh subprocess (peak RSS is per process); results go to
docs/benchmarks/gradcache_memory.json."""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks"


def one_step(data_root: str, batch: int, chunk: int, max_length: int) -> dict:
    from mtpf_deploy.training.pretrain.config import PretrainConfig
    from mtpf_deploy.training.pretrain.trainer import Pretrainer

    with tempfile.TemporaryDirectory() as tmp:
        cfg = PretrainConfig(strategy="pf-tc", data_root=data_root, pairs=["snli", "sick", "stsb", "mrpc"], steps=1,
                             tc_batch_size=batch, tc_chunk_size=chunk, max_length=max_length)
        trainer = Pretrainer(cfg, Path(tmp), log=lambda m: None)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        stats = trainer.train_step(["tc"])
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"batch": batch, "chunk": chunk, "max_length": max_length, "loss": stats["loss"], "seconds": seconds,
            "peak_rss_mb": peak / 1024, "rss_before_step_mb": before / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--chunk-size", type=int, default=64)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--worker", nargs=4, metavar=("ROOT", "BATCH", "CHUNK", "LEN"))
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(one_step(a.worker[0], int(a.worker[1]), int(a.worker[2]), int(a.worker[3]))))
        return
    rows = []
    for chunk in (a.chunk_size, 0):
        out = subprocess.run([sys.executable, __file__, "--data-root", a.data_root, "--worker", a.data_root,
                              str(a.batch_size), str(chunk), str(a.max_length)], capture_output=True, text=True,
                             check=True, env={"TQDM_DISABLE": "1", **__import__("os").environ})
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "gradcache_memory.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
