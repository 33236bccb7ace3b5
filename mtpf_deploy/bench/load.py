"""A load generator on the sibling core: a phone's other apps never leave the core beside ours idle, and
the slotted graph's many small ops suffer most from a neighbour sharing the core's caches."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# float32 GEMMs on a 1 MB working set (L2-sized): it keeps the core's execution units and caches busy
BUSY_LOOP = "import numpy as np\na = np.random.rand(512, 512).astype(np.float32)\nwhile True:\n    a @ a\n"


@contextmanager
def sibling_load(on: bool) -> Iterator[dict]:
    """While inside, a busy process runs on a CPU this process is not pinned to (the last CPU when it may
    use them all). Yields what the report records: ``{"busy_sibling": bool, "cpu": int | None}``."""
    if not on:
        yield {"busy_sibling": False, "cpu": None}
        return
    mine = os.sched_getaffinity(0)
    others = sorted(set(range(os.cpu_count() or 1)) - mine) or [max(mine)]
    cpu = others[0]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", BUSY_LOOP], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        os.sched_setaffinity(proc.pid, {cpu})
        yield {"busy_sibling": True, "cpu": cpu, "shares_our_cpus": cpu in mine}
    finally:
        proc.kill()
        proc.wait()
