"""Adapters merged into the weights at load (``load_adapter(merge=True)``, issue 25) against the slot
path on the same int8 bundle: load time, resident memory per adapter, and the metric of what ships
(``evaluation/shipped.py``) on full dev/test sets, with agreement to an fp32 bundle.

    taskset -c 0 .venv/bin/python benchmarks/merged_adapters.py --bundle INT8_BUNDLE --fp32-bundle FP32_BUNDLE \
        --data-root ../shared/data --ner ner_wnut17=wnut17 --ner ner_conll2003=conll2003 --tc tc_banking77=banking77

The bundles are the ``int8 (default)`` and ``fp32`` ones `benchmarks/int8_accuracy.py` leaves in its
--work folder (adapters named ``ner_DATASET`` / ``tc_DATASET``). Writes docs/results/merged_adapters.json."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from mtpf_deploy.bench.machine import machine_info
from mtpf_deploy.bench.memory import rss_in_subprocess
from mtpf_deploy.data.registry import load_split
from mtpf_deploy.evaluation.shipped import accuracy, agreement, entity_prf, runtime_entities, runtime_labels, text_and_gold
from mtpf_deploy.runtime import SystemModel

OUT = Path(__file__).resolve().parent.parent / "docs" / "results" / "merged_adapters.json"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--fp32-bundle", type=Path, required=True)
    ap.add_argument("--data-root", type=Path, required=True)
    ap.add_argument("--ner", action="append", default=[], help="ADAPTER=DATASET (dev split)")
    ap.add_argument("--tc", action="append", default=[], help="ADAPTER=DATASET (test split)")
    ap.add_argument("--loads", type=int, default=7)
    args = ap.parse_args()
    system, fp32 = SystemModel.load(args.bundle, threads=1), SystemModel.load(args.fp32_bundle, threads=1)
    result: dict = {"command": "benchmarks/merged_adapters.py (module docstring)", "machine": machine_info(), "adapters": {}}
    for kind, spec in [("ner", s) for s in args.ner] + [("tc", s) for s in args.tc]:
        name, data = spec.split("=", 1)
        path = args.bundle / system.manifest["adapters"][name]
        row: dict = {"dataset": data}
        for mode in ("slot", "merged"):
            times = []
            for k in range(args.loads):
                start = time.perf_counter()
                system.load_adapter(path, name=f"{name}_{mode}_{k}", merge=mode == "merged")
                times.append((time.perf_counter() - start) * 1000)
                if k:
                    system.unload_adapter(f"{name}_{mode}_{k}")
            row[f"{mode} load ms (median)"] = float(np.median(times[1:]))  # the first also opens a layout session
            row[f"{mode} first load ms"] = times[0]
            before = rss_in_subprocess("ours", args.bundle, path, 0)["rss_mb"]
            after = rss_in_subprocess("ours", args.bundle, path, 4, *(["merge"] if mode == "merged" else []))["rss_mb"]
            row[f"{mode} RSS MB per adapter (4 loaded)"] = (after - before) / 4
        if kind == "ner":
            sentences = load_split(data, "dev", args.data_root)
            texts, gold = zip(*(text_and_gold(s) for s in sentences))
            ref = runtime_entities(fp32, name, texts, "fp32")
            row["fp32 F1"] = entity_prf(gold, ref)["f1"]
            for mode in ("slot", "merged"):
                pred = runtime_entities(system, f"{name}_{mode}_0", texts, mode)
                row[f"{mode} F1"], row[f"{mode} entity F1 vs fp32"] = entity_prf(gold, pred)["f1"], entity_prf(ref, pred)["f1"]
        else:
            examples = load_split(data, "test", args.data_root)
            texts = [x.text for x in examples]
            ref = runtime_labels(fp32, name, texts)
            row["fp32 accuracy"] = accuracy(ref, examples)
            for mode in ("slot", "merged"):
                pred = runtime_labels(system, f"{name}_{mode}_0", texts)
                row[f"{mode} accuracy"], row[f"{mode} agreement with fp32"] = accuracy(pred, examples), agreement(ref, pred)
        result["adapters"][name] = row
        print(name, json.dumps(row), flush=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
