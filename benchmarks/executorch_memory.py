"""RSS of a loaded ExecuTorch bundle against the ONNX one (issue 25), each in a fresh process.

    .venv/bin/python benchmarks/executorch_memory.py [--max-length 256] [--max-batch 1,8] [--out FILE]

ExecuTorch plans a program's memory for its largest input. For each ``--et-max-batch`` this exports the
default backbone (fp32, both backends, no adapters) into a temporary folder and measures, in a fresh
process, the RSS after loading and one call of 1 x max-length tokens and of 8 x max-length tokens, for
ONNX Runtime and ExecuTorch, and that RSS above each backend's bare Python process (ExecuTorch's Python
bindings need torch, which a phone does not load). Export takes minutes."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from mtpf_deploy.bench.memory import rss_in_subprocess
from mtpf_deploy.export.write_bundle import export_bundle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--max-batch", default="1,8")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    def bare(imports: str) -> float:
        done = subprocess.run([sys.executable, "-c", f"import {imports}; from mtpf_deploy.bench.memory import rss_mb; print(rss_mb())"],
                              capture_output=True, text=True, check=True)
        return float(done.stdout)

    # what each backend's Python process holds before any bundle: the ExecuTorch bindings need torch
    baseline = {"onnx": bare("numpy, onnxruntime, tokenizers"),
                "executorch": bare("numpy, tokenizers, torch, executorch.extension.pybindings.portable_lib")}
    result: dict = {"max_length": args.max_length, "baseline_rss_mb": baseline, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for max_batch in [int(b) for b in args.max_batch.split(",")]:
            bundle = Path(tmp) / f"b{max_batch}"
            export_bundle("default", {}, bundle, precision="fp32", backends=["onnx", "executorch"], et_precision="fp32",
                          max_length=args.max_length, et_max_batch=max_batch, log=lambda m: None)
            for rows in (1, 8):
                for backend in ("onnx", "executorch"):
                    rss = rss_in_subprocess("backend", bundle, backend, rows, args.max_length)["rss_mb"]
                    row = {"et_max_batch": max_batch, "backend": backend, "rows": rows, "rss_mb": round(rss, 1),
                           "above_baseline_mb": round(rss - baseline[backend], 1)}
                    result["runs"].append(row)
                    print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
