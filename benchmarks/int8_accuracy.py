"""int8 accuracy on sets that can resolve it (issue 25): the metric of what ships (``SystemModel``'s
entities and labels, ``evaluation/shipped.py``) for each ONNX int8 variant beside fp32, and how often
each variant agrees with fp32.

    .venv/bin/python benchmarks/int8_accuracy.py --data-root ../shared/data \
        --ner wnut17=RUNS/wnut --ner conll2003=RUNS/conll --tc banking77=RUNS/banking [--work DIR]

Adapters come from `adapt` (the commands are in docs/evaluation.md). NER is scored on each dataset's
dev split (entities by type and exact character span), TC on the full test split (accuracy).
Resumable: each finished (variant, dataset) cell is one file in docs/results/int8_accuracy/, bundles
and predictions are kept in --work. Variants: fp32; the default int8 export (dynamic per-channel
MatMul + embedding Gather, ONNX Runtime's one scale per embedding table); the tables with one scale per
row; in float16; fp32 (MatMul only); the default with the MLP down-projections fp32; one activation scale
per token instead of per tensor (``export --activation-scales per-token``, what ``--row-adapters`` uses); fixed
activation scales calibrated on 1,000 Leipzig Wikipedia sentences (``--activation-scales static``, mean or max
of the texts' ranges). ``--variants`` runs only some (fp32, the reference, always)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from mtpf_deploy.data.registry import load_split
from mtpf_deploy.evaluation.shipped import accuracy, agreement, entity_prf, runtime_entities, runtime_labels, text_and_gold

OUT = Path(__file__).resolve().parent.parent / "docs" / "results" / "int8_accuracy"
VARIANTS = {
    "fp32": {"precision": "fp32"},
    "int8 (default: embeddings per tensor)": {},
    "int8, embeddings per row": {"int8_embeddings": "per-row"},
    "int8, embeddings fp32": {"int8_ops": ["MatMul"]},
    "int8, embeddings fp16": {"int8_embeddings": "fp16"},
    "int8, MLP down-projections fp32": {"int8_keep_fp32": ["ffn_out"]},
    "int8, activations per token": {"activation_scales": "per-token"},  # issue 26: batch-independent int8
    # fixed scales from 1,000 Leipzig Wikipedia sentences (the vendor's corpus, not the task's texts)
    "int8, activations static (mean range)": {"activation_scales": "static", "calibration_range": "mean"},
    "int8, activations static (max range)": {"activation_scales": "static", "calibration_range": "max"},
}
CALIBRATION_TEXTS = 1000


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-root", type=Path, required=True)
    ap.add_argument("--ner", action="append", default=[], help="DATASET=ADAPTER_DIR (scored on dev)")
    ap.add_argument("--tc", action="append", default=[], help="DATASET=ADAPTER_DIR (scored on test)")
    ap.add_argument("--work", type=Path, default=Path("bench_out/int8_accuracy"))
    ap.add_argument("--variants", help="comma list of variant names (as in the cells' file names) to run; fp32, the "
                                       "reference, always runs", default="")
    args = ap.parse_args()
    chosen = {v for v in args.variants.split(",") if v}
    if chosen - {slug(v) for v in VARIANTS}:
        ap.error(f"unknown variants {sorted(chosen - {slug(v) for v in VARIANTS})}; known: {[slug(v) for v in VARIANTS]}")
    args.work.mkdir(parents=True, exist_ok=True)
    calibration = args.work / "calibration.txt"
    if not calibration.exists():
        sentences = list(load_split("leipzig_wikipedia", "train", args.data_root))[:CALIBRATION_TEXTS]
        calibration.write_text("".join(t + "\n" for t in sentences), encoding="utf-8")
    from mtpf_deploy.export.write_bundle import export_bundle
    from mtpf_deploy.runtime import SystemModel

    # DATASET[@TAG]=ADAPTER: a tag scores more adapters of one dataset (e.g. wnut17@s1 for another seed)
    tasks = [("ner", *s.split("=", 1)) for s in args.ner] + [("tc", *s.split("=", 1)) for s in args.tc]
    adapters = {f"{kind}_{slug(key)}": Path(path) for kind, key, path in tasks}
    OUT.mkdir(parents=True, exist_ok=True)
    for variant, options in VARIANTS.items():
        if chosen and variant != "fp32" and slug(variant) not in chosen:
            continue
        if options.get("activation_scales") == "static":
            options = {**options, "calibration_texts": str(calibration)}
        cells = {key: OUT / f"{slug(variant)}__{slug(key)}.json" for _, key, _ in tasks}
        # the fp32 predictions are the agreement reference: recomputed (and checked against the committed cell,
        # so new cells are never compared with other adapters) when they are missing and other cells are to run
        todo = [k for k, c in cells.items() if not c.exists() or (variant == "fp32" and not
                (args.work / f"fp32__{slug(k)}.predictions.json").exists())]
        if not todo:
            continue
        bundle = args.work / slug(variant)
        have = json.loads((bundle / "manifest.json").read_text())["adapters"] if (bundle / "manifest.json").exists() else {}
        if set(have) != set(adapters):  # (re-)export when the adapters asked for changed
            export_bundle("default", adapters, bundle, overwrite=True, log=lambda m: None, **options)
        system = None
        for kind, key, _ in tasks:
            data = key.partition("@")[0]
            cell = OUT / f"{slug(variant)}__{slug(key)}.json"
            preds = args.work / f"{slug(variant)}__{slug(key)}.predictions.json"
            if key not in todo:
                continue
            system = system or SystemModel.load(bundle, threads=1)
            name = f"{kind}_{slug(key)}"
            if kind == "ner":
                sentences = load_split(data, "dev", args.data_root)
                texts, gold = zip(*(text_and_gold(s) for s in sentences))
                pred = runtime_entities(system, name, texts, f"{variant} {data}")
                result = {"split": "dev", **entity_prf(gold, pred)}
                preds.write_text(json.dumps([sorted(p) for p in pred]))
            else:
                examples = load_split(data, "test", args.data_root)
                labels = runtime_labels(system, name, [x.text for x in examples])
                result = {"split": "test", "accuracy": accuracy(labels, examples),
                          "examples": len(examples)}
                preds.write_text(json.dumps(labels))
            reference = args.work / f"fp32__{slug(key)}.predictions.json"
            if variant != "fp32" and reference.exists():
                ref = json.loads(reference.read_text())
                mine = json.loads(preds.read_text())
                if kind == "ner":
                    result["entity_f1_vs_fp32"] = entity_prf([{tuple(e) for e in r} for r in ref],
                                                             [{tuple(e) for e in m} for m in mine])["f1"]
                else:
                    result["label_agreement_vs_fp32"] = agreement(ref, mine)
            if cell.exists():  # the fp32 reference, recomputed: it must be what the committed cell measured
                old = json.loads(cell.read_text())
                metric = "f1" if kind == "ner" else "accuracy"
                if abs(old[metric] - result[metric]) > 1e-9:
                    raise SystemExit(f"{cell.name}: the committed fp32 {metric} is {old[metric]:.6f}, these adapters give "
                                     f"{result[metric]:.6f}; score other adapters under another tag (DATASET@TAG)")
                continue
            options = {k: v for k, v in options.items() if k != "calibration_texts"}
            result.update(variant=variant, dataset=data, adapter=key, export_options=options,
                          calibration=f"the first {CALIBRATION_TEXTS} Leipzig Wikipedia sentences"
                          if options.get("activation_scales") == "static" else None,
                          command="benchmarks/int8_accuracy.py (module docstring)")
            cell.write_text(json.dumps(result, indent=1) + "\n")
            print(variant, data, {k: v for k, v in result.items() if isinstance(v, float)}, flush=True)


if __name__ == "__main__":
    main()
