"""int8 variants of the exported backbone: size, fidelity to fp32 and per-call latency.

    .venv/bin/python benchmarks/int8_variants.py --data-root ../shared/data

Adapters: two `adapt tc` logistic-regression heads on Banking77 (a quarter of train, and all of
train). Variants: fp32; dynamic per-channel int8 on MatMul only (embeddings fp32); on MatMul + the
embedding tables int8 with ONNX Runtime's one scale per table (the default), with one scale per row, or
the tables in float16; the default with the MLP down-projections kept fp32; the default with one activation
scale per token (``--activation-scales per-token``); fixed activation scales calibrated on 1,000 Leipzig
Wikipedia sentences (``--activation-scales static``, mean or max range). Fidelity: mean token cosine to fp32 on
64 CoNLL-2003 test sentences (no adapter) and TC label agreement with fp32 on 770 Banking77 test texts.
Latency: one text per call, 1 intra-op thread, 200 calls per variant, the variants interleaved call by
call (median). Writes docs/benchmarks/int8_variants.json."""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from mtpf_deploy.data.registry import load_split
from mtpf_deploy.data.tokenization import truncated_rows
from mtpf_deploy.export.write_bundle import export_bundle
from mtpf_deploy.runtime import SystemModel
from mtpf_deploy.training.adapt.tc import TcAdaptConfig, adapt_tc

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks"
VARIANTS = {
    "fp32": None,
    "int8 MatMul (embeddings fp32)": {"int8_ops": ["MatMul"]},
    "int8 MatMul+Gather, embeddings per table (default)": {},
    "int8 MatMul+Gather, embeddings per row": {"int8_embeddings": "per-row"},
    "int8 MatMul, embeddings fp16": {"int8_embeddings": "fp16"},
    "int8 MatMul+Gather, MLP out fp32": {"int8_keep_fp32": ["ffn_out"]},
    "int8 MatMul+Gather, activations per token": {"activation_scales": "per-token"},
    "int8 MatMul+Gather, activations static (mean range)": {"activation_scales": "static", "calibration_range": "mean"},
    "int8 MatMul+Gather, activations static (max range)": {"activation_scales": "static", "calibration_range": "max"},
}
CALIBRATION_TEXTS = 1000  # the first Leipzig Wikipedia sentences: the vendor's corpus, not the tasks' texts


def token_cosine(a: SystemModel, b: SystemModel, texts: list[str]) -> float:
    rows, _ = truncated_rows(a.tokenizer, texts, 128)
    cos = []
    for r in rows:
        x, _ = a.run_ids([r])
        y, _ = b.run_ids([r])
        cos.append((x[0] * y[0]).sum(-1) / np.linalg.norm(x[0], axis=-1) / np.linalg.norm(y[0], axis=-1))
    return float(np.concatenate(cos).mean())


def latency_ms(systems: dict[str, SystemModel], texts: list[str], adapter: str) -> dict[str, float]:
    """Median ms of a one-text ``classify`` per system, the systems interleaved call by call."""
    times: dict[str, list[float]] = {name: [] for name in systems}
    for system in systems.values():
        system.classify(texts[:5], adapter)  # warm-up
    for t in texts:
        for name, system in systems.items():
            start = time.perf_counter()
            system.classify([t], adapter)
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(v)) * 1000 for name, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-root", required=True)
    a = ap.parse_args()
    quiet = lambda m: None  # noqa: E731
    train = load_split("banking77", "train", a.data_root)
    test = [x.text for x in load_split("banking77", "test", a.data_root)[::4]]
    conll = [" ".join(s.words) for s in load_split("conll2003", "test", a.data_root)[:64]]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        adapt_tc(TcAdaptConfig(n_experiments=0), {"train": train[::4]}, tmp / "quarter", log=quiet)
        adapt_tc(TcAdaptConfig(n_experiments=0), {"train": train}, tmp / "full", log=quiet)
        adapters = {"quarter": tmp / "quarter", "full": tmp / "full"}
        calibration = tmp / "calibration.txt"
        calibration.write_text("".join(t + "\n" for t in list(load_split("leipzig_wikipedia", "train", a.data_root))
                                       [:CALIBRATION_TEXTS]), encoding="utf-8")
        systems = {}
        for name, options in VARIANTS.items():
            out = tmp / str(len(systems))
            if options and options.get("activation_scales") == "static":
                options = {**options, "calibration_texts": str(calibration)}
            export_bundle("default", adapters, out, precision="fp32" if options is None else "int8", log=quiet,
                          **(options or {}))
            systems[name] = SystemModel.load(out, threads=1)
        ref = systems["fp32"]
        ref_labels = {k: [c.label for c in ref.classify(test, k)] for k in adapters}
        latency = latency_ms(systems, test[:200], "full")
        for name, system in systems.items():
            row = {"variant": name, "backbone_mb": (system.folder / "backbone.onnx").stat().st_size / 1e6,
                   "token_cosine": token_cosine(ref, system, conll), "latency_ms": latency[name]}
            for k in adapters:
                labels = [c.label for c in system.classify(test, k)]
                row[f"tc_agreement_{k}_train_head"] = float(np.mean([x == y for x, y in zip(labels, ref_labels[k])]))
            rows.append(row)
            print(json.dumps(row), flush=True)
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "int8_variants.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("| variant | backbone MB | token cosine | TC agreement (¼-train head) | TC agreement (full-train head) | ms/text |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {r['backbone_mb']:.1f} | {r['token_cosine']:.4f} | "
              f"{r['tc_agreement_quarter_train_head']:.2%} | {r['tc_agreement_full_train_head']:.2%} | {r['latency_ms']:.2f} |")


if __name__ == "__main__":
    main()
