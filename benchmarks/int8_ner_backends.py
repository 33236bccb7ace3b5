"""int8 vs fp32 on a real NER adapter, for both backends: entity-level F1 through the runtime.

    .venv/bin/python benchmarks/int8_ner_backends.py [--epochs 3]

Trains `adapt ner` (LoRA r32/α64 + head, the default backbone) on the committed WNUT-17 sample
(1,500 train sentences), exports it as fp32 ONNX + fp32 ExecuTorch, int8 ONNX and int8 ExecuTorch, and
scores each with `SystemModel.entities` on the 400 dev sentences (words joined by spaces; an entity
counts when its type and character span equal the gold one: strict span F1, as seqeval's strict IOB2).
Writes docs/benchmarks/int8_ner_backends.json."""
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

    from mtpf_deploy.data.files import load_task_splits
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
        export_bundle("default", {"ner": tmp / "ner"}, tmp / "fp32", quantize="none", backends=("onnx", "executorch"),
                      log=print)
        export_bundle("default", {"ner": tmp / "ner"}, tmp / "int8", quantize="int8", log=print)
        export_bundle("default", {"ner": tmp / "ner"}, tmp / "et8", backends=("executorch",), et_quantize="int8", log=print)
        systems = {"onnx fp32": SystemModel.load(tmp / "fp32"), "onnx int8": SystemModel.load(tmp / "int8"),
                   "executorch fp32": SystemModel.load(tmp / "fp32", backend="executorch"),
                   "executorch int8": SystemModel.load(tmp / "et8", backend="executorch")}
        dev = splits["dev"]
        texts = [words_to_text(s.words)[0] for s in dev]
        gold = gold_spans(dev)
        scores = {}
        for name, system in systems.items():
            found = system.entities(texts, system.load_adapter("ner"))
            scores[name] = f1(gold, [{(e.label, e.start, e.end) for e in ents} for ents in found])
            print(f"{name}: entity F1 {scores[name]['f1']:.4f}")
    result = {"train_sentences": len(splits["train"]), "dev_sentences": len(dev), "epochs": args.epochs,
              "pytorch_dev_f1_seqeval": metrics["dev"]["f1"], "runtime_span_f1": scores}
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "int8_ner_backends.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
