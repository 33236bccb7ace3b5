"""The NER metric of what ships against the one `adapt ner` reports (issue 25).

    .venv/bin/python benchmarks/shipped_ner_metric.py ADAPTER_DIR --dataset conll2003 --split dev \
        --data-root ../shared/data [--precision fp32,int8] [--out docs/results/shipped_ner_metric/NAME.json]

`adapt ner` scores word tags with seqeval's strict IOB2 mode. What an app gets is `SystemModel.entities`:
the runtime's own tokenization of the text, windows, first-sub-word decoding, grouping and character
spans. This exports a bundle of the adapter (a temporary folder; fp32 and/or the default int8), runs
`entities` on every sentence (its words joined by single spaces) and scores the entities against the
gold ones by type and exact character span — with the runtime's strict grouping (what ships) and with
the lenient grouping it used before (seqeval's `get_entities`: a stray I-X starts an entity). Beside
them, seqeval's strict F1 of the adapter's torch model on the same split, as `adapt ner` computes it."""
from __future__ import annotations

import argparse
import functools
import json
import tempfile
from pathlib import Path

from tqdm import tqdm

from mtpf_deploy.data.registry import load_split
from mtpf_deploy.evaluation.shipped import entity_prf as prf
from mtpf_deploy.evaluation.shipped import text_and_gold


def runtime_entities(bundle: Path, texts: list[str], strict: bool) -> list[set]:
    from mtpf_deploy.runtime import SystemModel
    from mtpf_deploy.runtime.tasks import ner_decode

    original = ner_decode.bio_entity_spans
    ner_decode.bio_entity_spans = functools.partial(original, strict=strict)  # type: ignore[assignment]
    try:
        system = SystemModel.load(bundle, threads=1)
        out = []
        for t in tqdm(texts, desc=f"{bundle.name} entities ({'strict' if strict else 'lenient'})", leave=False):
            out.append({(e.label, e.start, e.end) for e in system.entities(t, "ner")})
        return out
    finally:
        ner_decode.bio_entity_spans = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("adapter", type=Path)
    parser.add_argument("--dataset", default="conll2003")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--backbone", default="default", help="the backbone the adapter was trained on")
    parser.add_argument("--precision", default="fp32,int8")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from mtpf_deploy.export.write_bundle import export_bundle

    sentences = load_split(args.dataset, args.split, args.data_root)
    texts, gold = (list(x) for x in zip(*(text_and_gold(s) for s in sentences)))
    result: dict = {"adapter": args.adapter.name, "dataset": args.dataset, "split": args.split,
                    "sentences": len(sentences), "gold_entities": sum(map(len, gold))}
    result["adapt ner (seqeval strict, torch)"] = seqeval_f1_for(args.backbone, args.adapter, sentences)
    with tempfile.TemporaryDirectory() as tmp:
        for precision in args.precision.split(","):
            bundle = Path(tmp) / precision
            export_bundle(args.backbone, {"ner": args.adapter}, bundle, precision=precision, log=lambda m: None)
            for strict in (True, False):
                key = f"runtime {precision}, {'strict (ships)' if strict else 'lenient (before)'}"
                result[key] = prf(gold, runtime_entities(bundle, texts, strict))
                print(key, json.dumps(result[key]))
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")


def seqeval_f1_for(backbone: str, adapter: Path, sentences) -> dict:
    from mtpf_deploy.backbones import resolve_backbone
    from mtpf_deploy.data.tokenization import load_tokenizer
    from mtpf_deploy.formats.adapter_dir import read_adapter_dir
    from mtpf_deploy.training.adapt.ner import load_ner_tagger, predict_tags
    from mtpf_deploy.training.features import token_features
    from mtpf_deploy.training.metrics import ner_metrics

    model, labels = load_ner_tagger(backbone, adapter, "cpu")
    tok = load_tokenizer(resolve_backbone(backbone))
    feats = token_features(tok, sentences, {label: i for i, label in enumerate(labels)}, read_adapter_dir(adapter).max_length)
    pred = predict_tags(model, tok, feats, labels, device="cpu")
    m = ner_metrics([list(s.tags) for s in sentences], [list(p) for p in pred])
    print("adapt ner (seqeval strict)", {k: m[k] for k in ("f1", "precision", "recall")})
    return {k: m[k] for k in ("f1", "precision", "recall")}


if __name__ == "__main__":
    main()
