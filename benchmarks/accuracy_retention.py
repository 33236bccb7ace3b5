"""Accuracy retention fp32 -> int8 through the runtime, on a real NER and a real TC adapter, for both
backends and the int8 ONNX variants.

    .venv/bin/python benchmarks/accuracy_retention.py [--epochs 3]

NER: `adapt ner` (LoRA r32/α64 + head, the default backbone) on the committed WNUT-17 sample (1,500
train sentences), scored with `SystemModel.entities` on the 400 dev sentences (words joined by spaces;
an entity counts when its type and character span equal the gold one: strict span F1, as seqeval's
strict IOB2). TC: `adapt tc` (logistic regression) on the committed Banking77 sample (16 per intent),
accuracy of `SystemModel.classify` on its 462 test texts. Bundles: fp32 ONNX + fp32 ExecuTorch; int8
ONNX as exported by default (int8 LoRA, fusions); int8 ONNX with fp32 LoRA (--no-int8-lora); int8 ONNX
with the MLP down-projections in fp32 (--int8-keep-fp32 ffn_out); int8 ExecuTorch.
Writes docs/benchmarks/accuracy_retention.json."""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks"


def gold_spans(sentences) -> list[set[tuple[str, int, int]]]:
    from mtpf_deploy.data.bio import bio_entity_spans
    from mtpf_deploy.data.tokenization import words_to_text

    out = []
    for s in sentences:
        _, spans = words_to_text(s.words)
        out.append({(kind, spans[a][0], spans[b][1]) for kind, a, b in bio_entity_spans(s.tags)})
    return out


def f1(gold: list[set], pred: list[set]) -> dict[str, float]:
    tp = sum(len(g & p) for g, p in zip(gold, pred))
    n_pred, n_gold = sum(map(len, pred)), sum(map(len, gold))
    precision, recall = tp / max(n_pred, 1), tp / max(n_gold, 1)
    return {"f1": 2 * precision * recall / max(precision + recall, 1e-12), "precision": precision, "recall": recall}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    from executorch_vs_onnx import banking_adapter

    from mtpf_deploy.data.splits import load_task_splits
    from mtpf_deploy.data.tokenization import words_to_text
    from mtpf_deploy.export.write_bundle import export_bundle
    from mtpf_deploy.runtime import SystemModel
    from mtpf_deploy.training.adapt.config import NerAdaptConfig
    from mtpf_deploy.training.adapt.ner import adapt_ner

    splits = load_task_splits("ner", files={"train": ROOT / "demo_data/wnut17_train.conll",
                                            "dev": ROOT / "demo_data/wnut17_dev.conll"})
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        metrics = adapt_ner(NerAdaptConfig(epochs=args.epochs, batch_size=32, lora_lr=2e-3), splits, tmp / "ner", log=print)
        tc_test = banking_adapter(tmp / "tc")
        both = {"ner": tmp / "ner", "tc": tmp / "tc"}
        export_bundle("default", both, tmp / "fp32", precision="fp32", backends=("onnx", "executorch"), log=print)
        export_bundle("default", both, tmp / "int8", precision="int8", log=print)
        export_bundle("default", both, tmp / "int8_fp32_lora", precision="int8", int8_lora=False, log=print)
        export_bundle("default", both, tmp / "int8_ffn", precision="int8", int8_keep_fp32=["ffn_out"], log=print)
        export_bundle("default", both, tmp / "et8", backends=("executorch",), et_precision="int8", log=print)
        systems = {"onnx fp32": SystemModel.load(tmp / "fp32"), "onnx int8 (default: int8 LoRA)": SystemModel.load(tmp / "int8"),
                   "onnx int8, fp32 LoRA": SystemModel.load(tmp / "int8_fp32_lora"),
                   "onnx int8, MLP down-projections fp32": SystemModel.load(tmp / "int8_ffn"),
                   "executorch fp32": SystemModel.load(tmp / "fp32", backend="executorch"),
                   "executorch int8": SystemModel.load(tmp / "et8", backend="executorch")}
        dev = splits["dev"]
        texts = [words_to_text(s.words)[0] for s in dev]
        gold = gold_spans(dev)
        scores, accuracy = {}, {}
        for name, system in systems.items():
            found = system.entities(texts, system.load_adapter("ner"))
            scores[name] = f1(gold, [{(e.label, e.start, e.end) for e in ents} for ents in found])
            labels = [c.label for c in system.classify([x.text for x in tc_test], system.load_adapter("tc"))]
            accuracy[name] = sum(p == x.label for p, x in zip(labels, tc_test)) / len(tc_test)
            print(f"{name}: WNUT-17 sample entity F1 {scores[name]['f1']:.4f}, Banking77 sample accuracy {accuracy[name]:.4f}")
    result = {"command": "benchmarks/accuracy_retention.py --epochs " + str(args.epochs),
              "ner": {"data": "demo_data/wnut17_{train,dev}.conll", "train_sentences": len(splits["train"]),
                      "dev_sentences": len(dev), "epochs": args.epochs, "pytorch_dev_f1_seqeval": metrics["dev"]["f1"],
                      "runtime_span_f1": scores},
              "tc": {"data": "demo_data/banking77_{train,test}.csv", "test_texts": len(tc_test), "accuracy": accuracy}}
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "accuracy_retention.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
