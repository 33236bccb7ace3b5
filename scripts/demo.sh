#!/usr/bin/env bash
# End-to-end demo on the embedded default backbone (all-MiniLM-L6-v2) and the committed samples.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
OUT=${DEMO_OUT:-demo_out}
mkdir -p "$OUT"

echo "== adapt ner: WNUT-17 sample (1,500 train / 400 dev sentences) =="
$BIN/mtpf-deploy adapt ner --train demo_data/wnut17_train.conll --dev demo_data/wnut17_dev.conll \
  --out "$OUT/ner" --overwrite --warmup-epochs 10 --epochs 3 --batch-size 32 --lr 2e-3 --examples 3

echo
echo "== adapt tc: Banking77 sample (77 intents, 16 train / 6 test per intent) =="
$BIN/mtpf-deploy adapt tc --train demo_data/banking77_train.csv --test demo_data/banking77_test.csv \
  --format csv --out "$OUT/tc" --overwrite --examples 3

echo
echo "== export: int8 ONNX backbone with LoRA slots + one file per adapter =="
$BIN/mtpf-deploy export --backbone default --adapters "ner=$OUT/ner,tc=$OUT/tc" --quantize int8 \
  --out "$OUT/bundle" --overwrite
$BIN/mtpf-deploy inspect "$OUT/bundle"

echo
echo "== predict (CLI, JSONL) =="
$BIN/mtpf-deploy predict --bundle "$OUT/bundle" --adapter ner "Taylor Swift played Madison Square Garden last night"
$BIN/mtpf-deploy predict --bundle "$OUT/bundle" --adapter tc "My card payment was declined at the shop"

echo
echo "== runtime: one session, adapter switched per call =="
$BIN/python scripts/demo_runtime.py "$OUT/bundle"
