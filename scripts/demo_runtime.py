"""Demo of the device side: one backbone session, the adapter switched per call.

    python scripts/demo_runtime.py BUNDLE
"""
from __future__ import annotations

import sys
import time

from mtpf_deploy.runtime import SystemModel

CALLS = [
    ("ner", "Just landed in San Francisco , heading to the Apple store with Tim Cook tomorrow"),
    ("tc", "I still have not received my new card, when will it arrive?"),
    ("ner", "Watching Stranger Things on Netflix with @john in London 😂"),
    ("tc", "Why was I charged an extra fee for my transfer?"),
    ("ner", "東京 and café\u0301 lovers meet Angela Merkel in Berlin"),
]


def main(bundle: str) -> None:
    t = time.perf_counter()
    system = SystemModel.load(bundle, threads=2)
    adapters = {name: system.load_adapter(name) for name in ("ner", "tc")}
    print(f"loaded backbone + {len(adapters)} adapters in {(time.perf_counter() - t) * 1000:.0f} ms "
          f"({system.backbone['precision']}, {system.backbone['num_layers']} layers)")
    for name, text in CALLS:
        t = time.perf_counter()
        if name == "ner":
            result = ", ".join(f"{e.text!r}:{e.label}@{e.start}-{e.end}" for e in system.entities([text], adapters[name])[0])
        else:
            c = system.classify([text], adapters[name])[0]
            result = f"{c.label} ({c.score:.2f})"
        ms = (time.perf_counter() - t) * 1000
        print(f"[{name:3s} {ms:6.1f} ms] {text}\n              -> {result or 'no entities'}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo_out/bundle")
