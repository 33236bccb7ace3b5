#!/usr/bin/env bash
# End-to-end demo on the embedded default backbone (all-MiniLM-L6-v2) and the committed samples:
# pseudo-label -> pretrain (MTPF-TPL) -> adapt (NER, TC) -> export (int8 bundle) -> sign + trust policy
# -> on-device runtime -> serve (one process for many apps, requests of different adapters in one pass).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
OUT=${DEMO_OUT:-demo_out}
mkdir -p "$OUT"

echo "== pseudo-label: k-means (K=32) over the default backbone's word embeddings of 600 raw WNUT-17 texts =="
$BIN/mtpf-deploy pseudo-label --corpus demo_data/wnut17_raw_sample.txt --k 32 --out "$OUT/ner_corpus" --overwrite

echo
echo "== pretrain: MTPF-TPL, 30 steps (NER distillation + SimCSE-style InfoNCE, task-primary LoRAs on the last 2 layers) =="
$BIN/mtpf-deploy pretrain --strategy mtpf-tpl --backbone default --pairs "" \
  --simcse-corpus demo_data/wnut17_raw_sample.txt --ner-corpus "$OUT/ner_corpus" --steps 30 \
  --tc-batch-size 32 --ner-batch-size 16 --max-length 64 --out "$OUT/run" --overwrite

echo
echo "== adapt ner: WNUT-17 sample (1,500 train / 400 dev sentences), LoRA initialised from the NER task-primary LoRA =="
$BIN/mtpf-deploy adapt ner --backbone "$OUT/run/backbone" --init-adapter "$OUT/run/adapters/ner" \
  --train demo_data/wnut17_train.conll --dev demo_data/wnut17_dev.conll \
  --out "$OUT/ner" --overwrite --warmup-epochs 10 --epochs 3 --batch-size 32 --lora-lr 2e-3 --examples 3

echo
echo "== adapt tc: Banking77 sample (77 intents, 16 train / 6 test per intent), TC task-primary LoRA active =="
$BIN/mtpf-deploy adapt tc --backbone "$OUT/run/backbone" --embed-adapter "$OUT/run/adapters/tc" \
  --train demo_data/banking77_train.csv --test demo_data/banking77_test.csv \
  --format csv --out "$OUT/tc" --overwrite --examples 3

echo
echo "== export: int8 ONNX backbone with LoRA slots + one file per adapter =="
$BIN/mtpf-deploy export --run "$OUT/run" --adapters "ner=$OUT/ner,tc=$OUT/tc" --precision int8 \
  --out "$OUT/bundle" --overwrite
$BIN/mtpf-deploy inspect "$OUT/bundle"

echo
echo "== trust: the vendor signs its adapters and ships a policy in the bundle (from now on: signed adapters only) =="
mkdir -p "$OUT/keys"
$BIN/mtpf-deploy keygen --out "$OUT/keys/demo-vendor" --overwrite --policy "$OUT/bundle/trust.json"
for a in ner tc; do
  $BIN/mtpf-deploy sign --key "$OUT/keys/demo-vendor.pem" --signer "demo vendor" "$OUT/bundle/adapters/$a.mtpfa"
done
$BIN/mtpf-deploy verify --trust "$OUT/bundle/trust.json" --bundle "$OUT/bundle" "$OUT/bundle/adapters/ner.mtpfa"
echo "-- a copy of the NER adapter with one byte changed, its signature copied beside it:"
$BIN/python -c 'import sys, shutil; d = bytearray(open(sys.argv[1], "rb").read()); d[len(d) // 2] ^= 1
open(sys.argv[2], "wb").write(d); shutil.copy(sys.argv[1] + ".sig", sys.argv[2] + ".sig")' \
  "$OUT/bundle/adapters/ner.mtpfa" "$OUT/tampered.mtpfa"
if $BIN/mtpf-deploy predict --bundle "$OUT/bundle" --adapter "$OUT/tampered.mtpfa" "Taylor Swift"; then
  echo "the tampered adapter was accepted" >&2
  exit 1
fi
echo "-- refused, as it must be"

echo
echo "== predict (CLI, JSONL) =="
$BIN/mtpf-deploy predict --bundle "$OUT/bundle" --adapter ner "Taylor Swift played Madison Square Garden last night"
$BIN/mtpf-deploy predict --bundle "$OUT/bundle" --adapter tc --top-k 3 "My card payment was declined at the shop"

echo
echo "== runtime: one backbone, adapter switched per call =="
$BIN/python scripts/demo_runtime.py "$OUT/bundle"

echo
echo "== serve: one backbone process for many apps; requests of different adapters share one pass (docs/serving.md) =="
$BIN/mtpf-deploy export --run "$OUT/run" --adapters "ner=$OUT/ner,tc=$OUT/tc" --row-adapters --out "$OUT/bundle_serve" \
  --overwrite
rm -rf "$OUT/serve_state"
TOKEN=$($BIN/mtpf-deploy apps add notes_app --state "$OUT/serve_state" | $BIN/python -c 'import json, sys; print(json.load(sys.stdin)["token"])')
$BIN/mtpf-deploy apps grant notes_app ner tc --state "$OUT/serve_state"
PORT=${DEMO_PORT:-8321}
$BIN/mtpf-deploy serve --bundle "$OUT/bundle_serve" --state "$OUT/serve_state" --port "$PORT" 2>"$OUT/serve.log" &
SERVE=$!
trap 'kill "$SERVE" 2>/dev/null || true' EXIT
for _ in $(seq 300); do curl -sf "localhost:$PORT/readyz" >/dev/null && break; sleep 0.2; done
curl -s -H "Authorization: Bearer $TOKEN" -d '{"adapter": "ner", "texts": ["Taylor Swift played Madison Square Garden"]}' \
  "localhost:$PORT/v1/predict"; echo
curl -s -H "Authorization: Bearer $TOKEN" -d '{"adapter": "tc", "texts": ["My card payment was declined"], "top_k": 2}' \
  "localhost:$PORT/v1/predict"; echo
echo "without a token (refused):"
curl -s -d '{"adapter": "tc", "texts": ["hello"]}' "localhost:$PORT/v1/predict"; echo
curl -s "localhost:$PORT/metrics" | grep -E '^mtpf_(batch_rows|requests_total)' | head -5
kill -TERM "$SERVE"
wait "$SERVE" || true
