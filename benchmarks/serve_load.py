"""``mtpf-deploy serve`` under load on loopback (issue 26): 16 concurrent clients x 200 requests, one text
of about 32 tokens each, over 8 NER-sized adapters (round-robin), against the in-process serial loop
(the same 3,200 requests one after another through ``SystemModel.entities``). The server runs on core 0
with 1 ONNX Runtime thread, the clients (and the serial loop) on core 1; the bundles are the ones
``benchmarks/mixed_batches.py`` leaves in its --work folder (run it first).

    .venv/bin/python benchmarks/serve_load.py [--work bench_out/mixed_batches]

Writes docs/results/serve_load.json and docs/results/serve_load.png; docs/serving.md has the table."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from mtpf_deploy.bench.machine import machine_info
from mtpf_deploy.runtime import SystemModel
from mtpf_deploy.serve.client import ServeClient
from mtpf_deploy.serve.registry import Registry

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
ADAPTERS = [f"ner{k}" for k in range(8)]
WORDS = ("the bank said on monday that alice smith of acme corp will visit paris and london next week to meet bob "
         "jones about the new office near the river").split()


def texts(n: int) -> list[str]:
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(WORDS, 24)) for _ in range(n)]


def percentiles(ms: list[float]) -> dict[str, float]:
    return {f"p{p}": float(np.percentile(ms, p)) for p in (50, 95, 99)}


def serial(bundle: Path, work: list[tuple[str, str]]) -> dict:
    system = SystemModel.load(bundle, threads=1)
    for n in ADAPTERS:
        system.load_adapter(n)
    for text, adapter in work[:50]:
        system.entities([text], adapter)
    ms, start = [], time.perf_counter()
    for text, adapter in work:
        t = time.perf_counter()
        system.entities([text], adapter)
        ms.append((time.perf_counter() - t) * 1000)
    wall = time.perf_counter() - start
    return {"requests": len(work), "seconds": wall, "requests_per_s": len(work) / wall, "latency_ms": percentiles(ms)}


def served(bundle: Path, state: Path, work: list[tuple[str, str]], clients: int, port: int, window_ms: float) -> dict:
    registry = Registry(state)
    token = registry.add_app(f"bench{port}")
    registry.grant(f"bench{port}", ["*"])
    server = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-m", "mtpf_deploy.cli", "serve", "--bundle",
                               str(bundle), "--state", str(state), "--port", str(port), "--threads", "1",
                               "--window-ms", str(window_ms), "--max-batch", "16"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        probe = ServeClient(f"http://127.0.0.1:{port}", token=token)
        for _ in range(600):
            try:
                if probe.ready():
                    break
            except Exception:  # not listening yet
                time.sleep(0.1)
        for text, adapter in work[:50]:  # warm: every adapter loaded, sessions warm
            probe.predict(adapter, [text])
        per_client = len(work) // clients
        ms: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def one(c: int) -> None:
            with ServeClient(f"http://127.0.0.1:{port}", token=token) as client:
                for text, adapter in work[c * per_client:(c + 1) * per_client]:
                    t = time.perf_counter()
                    try:
                        client.predict(adapter, [text])
                    except Exception as exc:  # counted, not hidden
                        with lock:
                            errors.append(str(exc)[:200])
                        continue
                    with lock:
                        ms.append((time.perf_counter() - t) * 1000)

        threads = [threading.Thread(target=one, args=(c,)) for c in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        metrics = probe.http.get("/metrics").text
        rows = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line.startswith("mtpf_batch_"))
        return {"requests": len(ms), "errors": len(errors), "first_errors": errors[:3], "seconds": wall,
                "requests_per_s": len(ms) / wall, "latency_ms": percentiles(ms), "window_ms": window_ms,
                "mean_rows_per_pass": float(rows["mtpf_batch_rows_sum"]) / float(rows["mtpf_batch_rows_count"]),
                "mean_adapters_per_pass": float(rows["mtpf_batch_adapters_sum"]) / float(rows["mtpf_batch_adapters_count"])}
    finally:
        server.terminate()
        server.wait(30)


def plot(result: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = result["runs"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    names = list(runs)
    a.barh(names, [runs[n]["requests_per_s"] for n in names], color="#4c72b0")
    a.set_xlabel("requests / s (higher is better)")
    for i, p in enumerate(("p50", "p95", "p99")):
        b.barh([j + i * 0.27 for j in range(len(names))], [runs[n]["latency_ms"][p] for n in names], height=0.27, label=p)
    b.set_yticks([j + 0.27 for j in range(len(names))], names)
    b.set_xlabel("latency per request, ms")
    b.legend()
    fig.suptitle("16 clients x 200 requests, 8 NER adapters, 1 ORT thread (docs/serving.md)")
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path("bench_out/mixed_batches"))
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=200, help="per client")
    args = ap.parse_args()
    rows, plain = args.work / "int8_row_adapters", args.work / "int8_per_tensor"
    all_texts = texts(args.clients * args.requests)
    work = [(t, ADAPTERS[i % len(ADAPTERS)]) for i, t in enumerate(all_texts)]
    os.sched_setaffinity(0, {1})  # clients and the serial loop: the other core
    result: dict = {"command": "benchmarks/serve_load.py", "machine": machine_info(), "clients": args.clients,
                    "requests_per_client": args.requests, "runs": {}}
    state = args.work / "serve_state"
    for name, run in (
            ("in-process serial (row-adapter bundle)", lambda: serial(rows, work)),
            ("in-process serial (per-tensor bundle)", lambda: serial(plain, work)),
            ("serve, row-adapter bundle, window 3 ms", lambda: served(rows, state, work, args.clients, 8431, 3.0)),
            ("serve, row-adapter bundle, window 0 ms", lambda: served(rows, state, work, args.clients, 8432, 0.0)),
            ("serve, per-tensor bundle, window 3 ms", lambda: served(plain, state, work, args.clients, 8433, 3.0))):
        result["runs"][name] = run()
        print(name, json.dumps(result["runs"][name]))
    (RESULTS / "serve_load.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, RESULTS / "serve_load.png")
    print(f"wrote {RESULTS / 'serve_load.json'}")


if __name__ == "__main__":
    main()
