"""ExecuTorch (XNNPACK, fp32 and int8) beside ONNX Runtime (fp32 and int8) on the default backbone: file
sizes, per-call latency with an NER-sized adapter active (LoRA r32 on query/key/MLP of all 6 layers),
and a real TC adapter's accuracy on the committed Banking77 sample (logistic regression head fitted with
`adapt tc` on demo_data/banking77_train.csv, 77 intents, evaluated on the 462 test texts).

    .venv/bin/python benchmarks/executorch_vs_onnx.py [--lengths 16,32,64,128,256] [--repeats 30]

One bundle holds both backbones (exported once); latency is batch 1, 1 thread, the variants
interleaved call by call after a warm-up, medians and p95 in ms. Writes
docs/benchmarks/executorch_vs_onnx.json (and prints a markdown table)."""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks"


def ner_sized_adapter(out: Path, max_length: int = 512, seed: int = 0) -> Path:
    """A PEFT LoRA r32/α64 (query, key, MLP; all layers) with non-zero B and a 9-label head (``seed``: its values)."""
    import torch
    from peft import get_peft_model

    from mtpf_deploy.backbones import resolve_backbone
    from mtpf_deploy.formats.adapter_dir import AdapterDir, write_adapter_dir
    from mtpf_deploy.formats.hashing import backbone_weights_sha256
    from mtpf_deploy.training.encoder import load_encoder, lora_config

    torch.manual_seed(seed)
    model = get_peft_model(load_encoder("default"), lora_config(32, 64))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)
    model.save_pretrained(out)
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
    head = {"weight": np.random.default_rng(seed).normal(0, 0.05, (9, 384)).astype(np.float32),
            "bias": np.zeros(9, np.float32)}
    write_adapter_dir(out, AdapterDir(task="ner", labels=labels, head=head, head_kind="linear", max_length=max_length,
                                      backbone={"name": "default",
                                                "weights_sha256": backbone_weights_sha256(resolve_backbone("default"))}))
    return out


def banking_adapter(out: Path) -> list:
    """``adapt tc`` (logistic regression, default backbone) on the committed Banking77 sample; returns test."""
    from mtpf_deploy.data.splits import load_task_splits
    from mtpf_deploy.training.adapt.config import TcAdaptConfig
    from mtpf_deploy.training.adapt.tc import adapt_tc

    root = Path(__file__).resolve().parent.parent / "demo_data"
    splits = load_task_splits("tc", files={"train": root / "banking77_train.csv", "test": root / "banking77_test.csv"},
                              fmt="csv")
    adapt_tc(TcAdaptConfig(n_experiments=0, max_length=128), {"train": splits["train"]}, out, log=print)
    return splits["test"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lengths", default="16,32,64,128,256")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]

    from mtpf_deploy.export.write_bundle import export_bundle
    from mtpf_deploy.runtime import SystemModel

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        adapter = ner_sized_adapter(tmp / "ner")
        test = banking_adapter(tmp / "tc")
        both = {"ner": adapter, "tc": tmp / "tc"}
        t0 = time.perf_counter()
        export_bundle("default", both, tmp / "fp32", precision="fp32", backends=("onnx", "executorch"),
                      et_max_rank=32, log=print)
        export_seconds = time.perf_counter() - t0
        export_bundle("default", both, tmp / "int8", precision="int8", log=print)
        export_bundle("default", both, tmp / "et8", backends=("executorch",), et_max_rank=32, et_precision="int8",
                      log=print)
        sizes = {"onnx fp32 backbone.onnx": (tmp / "fp32/backbone.onnx").stat().st_size,
                 "onnx int8 backbone.onnx": (tmp / "int8/backbone.onnx").stat().st_size,
                 "executorch backbone.pte": (tmp / "fp32/backbone.pte").stat().st_size,
                 "executorch backbone.ptd": (tmp / "fp32/backbone.ptd").stat().st_size,
                 "executorch int8 backbone.pte": (tmp / "et8/backbone.pte").stat().st_size,
                 "executorch int8 backbone.ptd": (tmp / "et8/backbone.ptd").stat().st_size,
                 "adapter ner.mtpfa": (tmp / "fp32/adapters/ner.mtpfa").stat().st_size}
        systems = {"onnx fp32": SystemModel.load(tmp / "fp32", threads=1),
                   "onnx int8": SystemModel.load(tmp / "int8", threads=1),
                   "executorch fp32 (xnnpack)": SystemModel.load(tmp / "fp32", threads=1, backend="executorch"),
                   "executorch int8 (xnnpack)": SystemModel.load(tmp / "et8", threads=1, backend="executorch")}
        adapters = {name: s.load_adapter("ner") for name, s in systems.items()}
        rng = np.random.default_rng(0)
        latency: dict[str, dict[str, dict[str, float]]] = {name: {} for name in systems}
        for length in lengths:
            row = [101, *rng.integers(2000, 20000, length - 2).tolist(), 102]
            times: dict[str, list[float]] = {name: [] for name in systems}
            for name, s in systems.items():  # warm-up
                for _ in range(3):
                    s.run_ids([row], adapters[name])
            for _ in range(args.repeats):
                for name, s in systems.items():
                    start = time.perf_counter()
                    s.run_ids([row], adapters[name])
                    times[name].append((time.perf_counter() - start) * 1000)
            for name, t in times.items():
                latency[name][str(length)] = {"median_ms": float(np.median(t)), "p95_ms": float(np.percentile(t, 95))}
        texts, gold = [x.text for x in test], [x.label for x in test]
        accuracy, labels = {}, {}
        for name, s in systems.items():
            labels[name] = [c.label for c in s.classify(texts, s.load_adapter("tc"))]
            accuracy[name] = float(np.mean([p == g for p, g in zip(labels[name], gold)]))
        agreement = {name: float(np.mean([p == q for p, q in zip(labels[name], labels["onnx fp32"])])) for name in systems}
        ref = systems["onnx fp32"].embed(texts[:200])
        cosine = {name: float((s.embed(texts[:200]) * ref).sum(1).mean()) for name, s in systems.items()}
        a = systems["onnx fp32"].run_ids([row], adapters["onnx fp32"])[0]
        b = systems["executorch fp32 (xnnpack)"].run_ids([row], adapters["executorch fp32 (xnnpack)"])[0]
        parity = float(np.abs(a - b).max())
    result = {"machine": platform.machine(), "processor": platform.processor(), "threads": 1, "batch": 1,
              "repeats": args.repeats, "export_seconds_onnx_fp32_plus_executorch": export_seconds,
              "sizes_bytes": sizes, "latency": latency,
              "banking77_sample_tc_accuracy": accuracy, "tc_label_agreement_with_onnx_fp32": agreement,
              "mean_embedding_cosine_to_onnx_fp32": cosine, f"max_abs_diff_onnx_fp32_vs_executorch_L{lengths[-1]}": parity}
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "executorch_vs_onnx.json").write_text(json.dumps(result, indent=2) + "\n")
    print("| variant | " + " | ".join(f"L={n}" for n in lengths) + " |")
    print("|---|" + "---|" * len(lengths))
    for name, by_len in latency.items():
        print(f"| {name} | " + " | ".join(f"{by_len[str(n)]['median_ms']:.2f}" for n in lengths) + " |")
    for name, size in sizes.items():
        print(f"{name}: {size / 1e6:.2f} MB")
    print(f"max |onnx fp32 - executorch| on hidden states: {parity:.2e}")
    for name in latency:
        print(f"{name}: Banking77 sample accuracy {accuracy[name]:.4f}, agreement with onnx fp32 "
              f"{agreement[name]:.4f}, embedding cosine {cosine[name]:.4f}")


if __name__ == "__main__":
    main()
