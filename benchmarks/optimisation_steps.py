"""Each optimisation step of issue 9 measured on its own, all variants interleaved in one run: the int8
ONNX backbone as exported before (no export fusions, fp32 LoRA; ONNX Runtime's session optimizer fuses
residual + LayerNorm into SkipLayerNormalization itself), + attention/GELU fusions at export, + int8
LoRA, + SkipLayerNormalization left unfused (today's default: its CPU kernel is slower than Add +
LayerNormalization), + slot layouts (issue 25: the adapter runs on a graph with slots only on query, key
and MLP; no adapter on the slot-less graph; today's default), + per-row int8 embedding tables (an
option: docs/evaluation.md), and the adapter merged into the weights at load
(``load_adapter(merge=True)``); beside them the merged per-task int8 model (the adapter's LoRA added
into the weights before export). Batch 1, 1 thread, NER-sized adapter (LoRA r32 on query/key/MLP
of all 6 layers), medians.

    taskset -c 0 .venv/bin/python benchmarks/optimisation_steps.py [--repeats 40]

Writes docs/benchmarks/optimisation_steps.json."""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import onnxruntime as ort
from executorch_vs_onnx import ner_sized_adapter

from mtpf_deploy.backbones import resolve_backbone
from mtpf_deploy.bench.machine import machine_info
from mtpf_deploy.bench.timing import interleaved, token_rows
from mtpf_deploy.export.write_bundle import export_bundle
from mtpf_deploy.runtime import SystemModel
from mtpf_deploy.runtime.engines.onnx import session_options

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks"
# name -> (export options, ONNX Runtime's SkipLayerNormFusion on)
BEFORE: dict = {"slot_layouts": []}
STEPS = {"1 before (no fusions, fp32 LoRA)": (dict(fuse=False, int8_lora=False, **BEFORE), True),
         "2 + attention/GELU fusions": (dict(fuse=True, int8_lora=False, **BEFORE), True),
         "3 + int8 LoRA": (dict(fuse=True, int8_lora=True, **BEFORE), True),
         "4 + no SkipLayerNorm": (dict(fuse=True, int8_lora=True, **BEFORE), False),
         "5 + slot layouts (default)": (dict(fuse=True, int8_lora=True), False),
         "6 + per-row int8 embeddings (an option)": (dict(fuse=True, int8_lora=True, int8_embeddings="per-row"), False),
         "7 adapter merged at load": (dict(fuse=True, int8_lora=True), False)}
MERGED = "merged per-task int8 model"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lengths", default="16,32,64,128,256")
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        adapter = ner_sized_adapter(tmp / "ner", max_length=128)
        systems = {}
        for i, (name, (options, skip_layer_norm)) in enumerate(STEPS.items()):
            if not (tmp / str(i - 1)).exists() or options != list(STEPS.values())[i - 1][0]:
                export_bundle("default", {"ner": adapter}, tmp / str(i), precision="int8", log=lambda m: None, **options)
            else:
                (tmp / str(i)).symlink_to(tmp / str(i - 1))
            systems[name] = SystemModel.load(tmp / str(i), threads=1)
            if skip_layer_norm:  # ONNX Runtime's default session optimizers, as the runtime had before
                systems[name].engine.sessions["all"] = ort.InferenceSession(  # type: ignore[attr-defined]
                    str(tmp / str(i) / "backbone.onnx"), session_options(1), providers=["CPUExecutionProvider"])
        feeds = {name: s.load_adapter("ner", merge=name.startswith("7")).feed for name, s in systems.items()}
        from mtpf_deploy.bench.baselines import export_merged_int8, merged_backbone
        from mtpf_deploy.bench.run import _ort_session
        from mtpf_deploy.formats.adapter_file import read_adapter_file
        from mtpf_deploy.formats.lora_slots import Slot

        system = next(iter(systems.values()))
        lora = read_adapter_file(tmp / "0" / "adapters" / "ner.mtpfa").lora
        slots = [Slot.from_json(x) for x in system.backbone["slots"]]
        export_merged_int8(merged_backbone(resolve_backbone("default"), lora, slots, tmp / "merged_hf"), tmp / "merged.onnx")
        merged = _ort_session(tmp / "merged.onnx", 1, spin=True, ours=True)
        latency: dict[str, dict[str, dict]] = {}
        for n in lengths:
            ids, mask = token_rows(n, 1, 1000, 2000, 101, 102)
            calls = {}
            for name, s in systems.items():
                calls[f"{name} + adapter"] = lambda s=s, f=feeds[name], i=ids, m=mask: s.engine.run(i, m, f)
                if not name.startswith("7"):
                    calls[f"{name}, no adapter"] = lambda s=s, i=ids, m=mask: s.engine.run(i, m, s.engine.no_adapter)
            calls[MERGED] = lambda i=ids, m=mask: merged.run(None, {"input_ids": i, "attention_mask": m})
            for variant, stats in interleaved(calls, args.repeats, 3).items():
                latency.setdefault(variant, {})[str(n)] = stats
            print(f"L={n}: " + ", ".join(f"{k} {v[str(n)]['median_ms']:.2f}" for k, v in latency.items()))
    result = {"command": f"benchmarks/optimisation_steps.py --lengths {args.lengths} --repeats {args.repeats}",
              "machine": machine_info(), "threads": 1, "batch": 1, "latency": latency}
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "optimisation_steps.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
