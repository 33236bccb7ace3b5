#!/usr/bin/env bash
# What a user would otherwise ship with Hugging Face tooling: the merged per-task encoder exported by
# optimum-onnx and dynamically quantized for this CPU by optimum-cli (its documented flow; quantizing
# the -O2 optimized model fails in onnxruntime's quantizer: "Unable to find data type for weight_name"),
# plus the -O2 optimized fp32 model (ORT's BERT fusions), built in its own venv (optimum-onnx 0.1 needs
# transformers<4.58, we run 5.x).
# Then timed beside ours in one interleaved run:
#   bash benchmarks/optimum_baseline.sh BUNDLE [ADAPTER] [OUT]
#   .venv/bin/mtpf-deploy bench --bundle BUNDLE --compare "optimum int8 (merged)=OUT/int8/model_quantized.onnx" \
#     --compare "optimum O2 fp32 (merged)=OUT/O2/model_optimized.onnx"
set -euo pipefail
BUNDLE=$1
ADAPTER=${2:-ner}
OUT=${3:-bench_out/optimum}
VENV=${OPTIMUM_VENV:-bench_out/optimum-venv}
cd "$(dirname "$0")/.."
.venv/bin/python benchmarks/merged_model.py "$BUNDLE" "$ADAPTER" "$OUT/merged_hf"
if [ ! -x "$VENV/bin/optimum-cli" ]; then
  python3 -m venv "$VENV"
  # the machine-wide pip constraints pin our stack; this venv is separate on purpose
  PIP_CONSTRAINT= "$VENV/bin/pip" install --quiet "optimum-onnx[onnxruntime]==0.1.0" "transformers>=4.53,<4.58" \
    "torch==2.13.0" "onnxruntime==1.31.1"
fi
"$VENV/bin/optimum-cli" export onnx --model "$OUT/merged_hf" --task feature-extraction --opset 18 "$OUT/fp32"
"$VENV/bin/optimum-cli" onnxruntime optimize --onnx_model "$OUT/fp32" -O2 -o "$OUT/O2"
FLAG=--avx2
grep -q avx512_vnni /proc/cpuinfo && FLAG=--avx512_vnni
"$VENV/bin/optimum-cli" onnxruntime quantize --onnx_model "$OUT/fp32" $FLAG --per_channel -o "$OUT/int8"
ls -la "$OUT/int8" "$OUT/O2"
