"""Golden vectors for the Android demo's pure-Kotlin core, written by the Python runtime.

    .venv/bin/python scripts/android_golden.py                 # golden.json from the committed bundle
    .venv/bin/python scripts/android_golden.py --make-bundle   # (re)build the committed tiny bundle (torch)
    .venv/bin/python scripts/android_golden.py --make-int8-bundle  # its int8 twin (torch; same adapters)

The bundle (android_demo/core/src/test/resources/bundle/) is a 1-layer, 8-wide random BERT with the
default backbone's real WordPiece tokenizer (30,522 pieces: lower-casing, accent stripping, CJK
splitting are exercised for real) and two adapters trained for a few steps on synthetic data. For each
text the golden file holds what the Kotlin core must reproduce: sub-word ids, code-point offsets,
word spans; for NER the windows, the backbone's per-window token logits (the JVM cannot run ONNX
Runtime, so the core decodes these) and the entities the runtime finds; for TC the hidden states of
the truncated row and the probabilities; plus the int8 per-column quantisation of one LoRA factor.
The int8 twin (bundle_int8/: int8 backbone, int8 LoRA slots, the same two adapter files, which fit
because the random BERT is rebuilt bit for bit) adds what ONNX Runtime on Android must reproduce for an
int8 bundle: the entities and TC labels the Python runtime finds (``int8_bundle``). The JVM tests run both
bundles in ONNX Runtime's C library (android_demo/core/src/test/kotlin/ai/mtpf/core/OrtRuntimeTest.kt).
tests/runtime/test_android_golden.py regenerates it and fails on drift."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "android_demo" / "core" / "src" / "test" / "resources"
BUNDLE = RESOURCES / "bundle"
BUNDLE_INT8 = RESOURCES / "bundle_int8"
GOLDEN = RESOURCES / "golden.json"
LONG = " ".join(["Ada Lovelace wrote the first program for Charles Babbage in London."] * 50)
TEXTS = [
    "Alice Smith went to Paris with Bob.",
    "Café Zürich: naïve résumé, ÉCOLE Ångström",
    "I ❤️ NY 👍🏽 and my family 👨‍👩‍👧 (emoji)",
    "我爱北京天安门 and Tokyo東京 in 2024",
    "",
    "   \t\n  ",
    "tab\there\u00a0nbsp\u2003em-space\u200bzero-width\u0000null",
    "O'Neil's e-mail: a.b@c.com, costs $3.50 (approx.) — really?!",
    "İstanbul ﬁnance Straße ΣΊΣΥΦΟΣ",
    "x" * 120 + " supercalifragilisticexpialidocious",
    "see [CLS] and[SEP]x [unk] a\u0301b \u0085next\ufffd 한국어 Ǆ",
    LONG,
]


def make_bundle() -> None:
    """The committed tiny bundle (needs the full install: torch, transformers, peft)."""
    import tempfile

    from mtpf_deploy.export.write_bundle import export_bundle
    from mtpf_deploy.training.adapt.config import NerAdaptConfig, TcAdaptConfig
    from mtpf_deploy.training.adapt.ner import adapt_ner
    from mtpf_deploy.training.adapt.tc import adapt_tc
    from tests.conftest import synthetic_ner_splits, synthetic_tc_splits

    with tempfile.TemporaryDirectory() as tmp:
        bert = _tiny_bert(Path(tmp))
        quiet = lambda m: None  # noqa: E731
        adapt_ner(NerAdaptConfig(backbone=str(bert), lora_r=2, lora_alpha=4, warmup_epochs=2, epochs=4,
                                 batch_size=32, lora_lr=5e-3, head_lr=5e-2, max_length=32),
                  synthetic_ner_splits(), Path(tmp) / "ner", log=quiet)
        adapt_tc(TcAdaptConfig(backbone=str(bert), finetune=True, lora_r=2, lora_alpha=4, warmup_epochs=1, epochs=2,
                               batch_size=32, max_length=32), synthetic_tc_splits(), Path(tmp) / "tc", log=quiet)
        export_bundle(str(bert), {"ner": Path(tmp) / "ner", "tc": Path(tmp) / "tc"}, BUNDLE, precision="fp32",
                      max_length=32, overwrite=True, log=quiet)
    manifest = json.loads((BUNDLE / "manifest.json").read_text())
    manifest["backbone"]["source"] = "tiny random BERT (scripts/android_golden.py --make-bundle)"
    (BUNDLE / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {BUNDLE}")


def _tiny_bert(tmp: Path) -> Path:
    """The 1-layer, 8-wide random BERT (seed 0: the same weights, hence weights_sha256, every time)."""
    import shutil

    import torch
    from transformers import BertConfig, BertModel

    from mtpf_deploy.backbones import default_backbone_dir

    bert = tmp / "bert"
    bert.mkdir()
    shutil.copy(default_backbone_dir() / "tokenizer.json", bert / "tokenizer.json")
    config = BertConfig(vocab_size=30522, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=64)
    torch.manual_seed(0)
    BertModel(config, add_pooling_layer=False).save_pretrained(bert)
    return bert


def make_int8_bundle() -> None:
    """bundle_int8/: the same backbone exported int8 (int8 LoRA slots), with the fp32 bundle's adapter files."""
    import shutil
    import tempfile

    from mtpf_deploy.export.write_bundle import export_bundle
    from mtpf_deploy.formats.hashing import backbone_weights_sha256

    fp32 = json.loads((BUNDLE / "manifest.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        bert = _tiny_bert(Path(tmp))
        if backbone_weights_sha256(bert) != fp32["backbone"]["weights_sha256"]:
            raise SystemExit("the rebuilt tiny BERT is not the committed bundle's backbone: run --make-bundle first")
        export_bundle(str(bert), {}, BUNDLE_INT8, precision="int8", max_length=32, overwrite=True, log=lambda m: None)
    manifest = json.loads((BUNDLE_INT8 / "manifest.json").read_text())
    (BUNDLE_INT8 / "adapters").mkdir(exist_ok=True)
    for rel in fp32["adapters"].values():
        shutil.copy(BUNDLE / rel, BUNDLE_INT8 / rel)
    manifest["adapters"] = fp32["adapters"]
    manifest["backbone"]["source"] = "tiny random BERT, int8 (scripts/android_golden.py --make-int8-bundle)"
    (BUNDLE_INT8 / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {BUNDLE_INT8}")


def int8_golden(bundle: Path = BUNDLE_INT8) -> dict:
    """Entities and TC labels/probabilities the Python runtime gives on the int8 twin."""
    from mtpf_deploy.runtime import SystemModel

    system = SystemModel.load(bundle, threads=1)
    ner, tc = system.load_adapter("ner"), system.load_adapter("tc")
    cases = []
    for text in TEXTS:
        entities = system.entities(text, ner)
        result = system.classify(text, tc)
        cases.append({"entities": [_entity(e) for e in entities], "label": result.label,
                      "probabilities": [round(float(result.probabilities[label]), 6) for label in tc.labels]})
    return {"lora_precision": system.manifest["backbone"]["lora_precision"], "cases": cases}


def golden(bundle: Path = BUNDLE) -> dict:
    """What the Python runtime computes for TEXTS on ``bundle`` (runtime only: no torch)."""
    from mtpf_deploy.data.tokenization import encode_text, truncated_rows, windows
    from mtpf_deploy.formats.lora_int8 import quantize_columns
    from mtpf_deploy.runtime import SystemModel
    from mtpf_deploy.runtime.tasks.classification import softmax as _softmax
    from mtpf_deploy.runtime.tasks.ner import default_stride
    from mtpf_deploy.runtime.tasks.ner_decode import best_window_per_token, decode_entities, word_predictions

    system = SystemModel.load(bundle, threads=1)
    ner, tc = system.load_adapter("ner"), system.load_adapter("tc")
    size = ner.max_length - 2
    stride = default_stride(size)
    cases = []
    rng = np.random.default_rng(0)
    for text in TEXTS:
        enc = encode_text(system.tokenizer, text)
        spans = windows(len(enc.ids), size, stride) if enc.ids else []
        window_logits = []
        for s, e in spans:
            hidden, _ = system.run_ids([[system.cls_id, *enc.ids[s:e], system.sep_id]], ner)
            window_logits.append(hidden[0, 1:-1] @ ner.weight.T + ner.bias)
        entities = []
        if spans:
            pick = best_window_per_token(len(enc.ids), spans)
            logits = np.stack([window_logits[w][p] for w, p in pick])
            entities = decode_entities(text, enc, word_predictions(enc, _softmax(logits)), ner.labels)
        # decoding alone on peaked random logits: many entities, B/I runs, I- without B-, ties impossible
        random_logits = np.round(rng.normal(0, 1, (len(enc.ids), len(ner.labels))) * 3, 3)
        decoded = (decode_entities(text, enc, word_predictions(enc, _softmax(random_logits)), ner.labels)
                   if enc.ids else [])
        row = truncated_rows(system.tokenizer, [text], tc.max_length)[0][0]
        hidden, _ = system.run_ids([row], tc)
        pooled = hidden[0].mean(0)
        pooled = pooled / max(float(np.linalg.norm(pooled)), 1e-12) if tc.normalize else pooled
        probs = _softmax(pooled @ tc.weight.T + tc.bias)
        reference = system.classify(text, tc).probabilities
        assert all(abs(reference[label] - float(p)) < 1e-5 for label, p in zip(tc.labels, probs)), text
        cases.append({
            "text": text, "ids": list(enc.ids), "offsets": [list(o) for o in enc.offsets],
            "word_index": enc.word_index, "word_spans": [list(s) for s in enc.word_spans],
            "ner": {"windows": [list(s) for s in spans], "logits": [np.round(w, 6).tolist() for w in window_logits],
                    "entities": [_entity(e) for e in entities]},
            "decode": {"logits": random_logits.tolist(), "entities": [_entity(e) for e in decoded]},
            "tc": {"row": row, "hidden": np.round(hidden[0], 6).tolist(),
                   "probabilities": np.round(probs, 6).tolist(), "label": tc.labels[int(probs.argmax())]},
        })
    a_name = sorted(ner.manifest["lora"]["slots"])[0]
    q, scale = quantize_columns(np.asarray(_lora(bundle, "ner")[a_name].T, np.float32))
    return {"format": "mtpf-android-golden", "version": 1, "max_length": ner.max_length, "stride": stride,
            "ner_labels": ner.labels, "tc_labels": tc.labels, "tc_normalize": tc.normalize, "cases": cases,
            "int8": {"tensor": a_name, "q": q.tolist(), "scale": np.round(scale, 9).tolist()},
            "int8_bundle": int8_golden()}


def _entity(e) -> dict:
    return {"text": e.text, "label": e.label, "start": e.start, "end": e.end, "score": round(e.score, 6)}


def _lora(bundle: Path, name: str) -> dict:
    from mtpf_deploy.formats.adapter_file import read_adapter_file

    return read_adapter_file(bundle / "adapters" / f"{name}.mtpfa").lora


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--make-bundle", action="store_true")
    parser.add_argument("--make-int8-bundle", action="store_true")
    parser.add_argument("--out", type=Path, default=GOLDEN)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.make_bundle:
        make_bundle()
    if args.make_bundle or args.make_int8_bundle:
        make_int8_bundle()
    args.out.write_text(json.dumps(golden(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
