"""The runtime of two checkouts, timed in alternation on one bundle (is a refactor free?).

    python benchmarks/runtime_ab.py --bundle B --repo OLD_CHECKOUT --repo NEW_CHECKOUT [--rounds 5] [--repeats 60]

Each round runs one subprocess per checkout (order alternating between rounds, pinned to CPU 0 with
``taskset`` when it exists): batch-1 ``entities`` with the bundle's first NER adapter, ``embed`` with
it and without, on three short texts; median ms each. Prints one JSON line per run and the per-call
ratio NEW / OLD (geometric mean over rounds)."""
from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
from mtpf_deploy.runtime import SystemModel
assert sys.modules["mtpf_deploy"].__file__.startswith(sys.argv[1])
system = SystemModel.load(sys.argv[2], threads=1)
name = next(n for n in system.manifest["adapters"] if system.load_adapter(n).task == "ner")
ner = system.adapters[name]
texts = ["Ada Lovelace met Charles Babbage in London in 1833 .", "my card was declined at the shop yesterday",
         "The quick brown fox jumps over the lazy dog near the river bank in Paris, France, on a sunny day."]
out = {}
for call, fn in {"entities": lambda t: system.entities(t, ner), "embed+ner lora": lambda t: system.embed(t, ner),
                 "embed": lambda t: system.embed(t)}.items():
    for t in texts:
        fn(t)
    times = []
    for _ in range(int(sys.argv[3])):
        for t in texts:
            t0 = time.perf_counter(); fn(t); times.append(time.perf_counter() - t0)
    out[call] = 1000 * float(np.median(times))
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--repo", action="append", required=True, help="two checkouts: old, then new")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args()
    old, new = args.repo
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    ratios: dict[str, list[float]] = {}
    for r in range(args.rounds):
        got = {}
        for repo in ((old, new) if r % 2 == 0 else (new, old)):
            res = subprocess.run([*pin, sys.executable, "-c", CHILD, repo, args.bundle, str(args.repeats)],
                                 capture_output=True, text=True, check=True)
            got[repo] = json.loads(res.stdout.strip().splitlines()[-1])
            print(json.dumps({"round": r, "repo": repo, **got[repo]}))
        for call in got[old]:
            ratios.setdefault(call, []).append(got[new][call] / got[old][call])
    print(json.dumps({call: round(math.exp(sum(map(math.log, v)) / len(v)), 3) for call, v in ratios.items()}))


if __name__ == "__main__":
    main()
