"""Resident memory of a fresh process holding the bundle + N adapters, or N merged per-task models
(each used once). Run by ``bench`` as a subprocess per point, so points do not share allocations:

    python -m mtpf_deploy.bench.memory ours BUNDLE ADAPTER_FILE N [merge] [full-graph]
    python -m mtpf_deploy.bench.memory merged MODEL.onnx TOKENIZER.json N

Both sides hold the tokenizer: a merged model needs one too."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np


def rss_mb() -> float:
    """This process's resident set (Linux ``VmRSS``; elsewhere the peak from ``getrusage``)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(argv: list[str]) -> dict:
    mode = argv[0]
    if mode == "backend":  # RSS of a loaded bundle after one call of ROWS x LENGTH tokens on BACKEND
        from ..runtime import SystemModel

        bundle, backend, rows, length = Path(argv[1]), argv[2], int(argv[3]), int(argv[4])
        system = SystemModel.load(bundle, threads=1, backend=backend)
        system.run_ids([[system.cls_id, *([system.pad_id] * (length - 2)), system.sep_id]] * rows)
        return {"rss_mb": rss_mb()}
    if mode == "ours":
        from ..runtime import SystemModel

        bundle, adapter, count = Path(argv[1]), argv[2], int(argv[3])
        merge = "merge" in argv[4:]  # each adapter folded into its own copy of the weights it changes
        system = SystemModel.load(bundle, threads=1, layouts="full-graph" not in argv[4:])
        row = [[system.cls_id, *([system.pad_id] * 30), system.sep_id]]
        system.run_ids(row)
        before = rss_mb()
        for i in range(count):
            system.run_ids(row, system.load_adapter(adapter, name=f"copy{i}", merge=merge))
        return {"rss_mb": rss_mb(), "rss_before_adapters_mb": before}
    import onnxruntime as ort
    from tokenizers import Tokenizer

    model, tokenizer, count = argv[1], Tokenizer.from_file(argv[2]), int(argv[3])
    tokenizer.encode("warm the tokenizer up")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sessions = [ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"]) for _ in range(count)]
    ids = np.full((1, 32), 1, np.int64)  # any id of any vocabulary
    for s in sessions:
        s.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
    return {"rss_mb": rss_mb()}


def rss_in_subprocess(*args: object) -> dict:
    done = subprocess.run([sys.executable, "-m", "mtpf_deploy.bench.memory", *map(str, args)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe {args} failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1:])))
