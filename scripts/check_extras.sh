#!/usr/bin/env bash
# Proves each extra installs what its side imports: [runtime] alone (no torch) runs the runtime and
# format tests against fixtures made by the full install; [export] alone exports a bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pip_in() { "$1/bin/pip" install --quiet -c constraints.txt "${@:2}" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

echo "== fixtures (full install)"
.venv/bin/python -m tests.fixtures "$work/fixtures"

echo "== [runtime] alone"
"$PYTHON" -m venv "$work/runtime"
pip_in "$work/runtime" -e '.[runtime]' pytest pytest-timeout hypothesis
"$work/runtime/bin/python" - <<'PY'
import importlib.util
missing_ok = ["torch", "transformers", "peft", "sklearn", "onnx"]
present = [m for m in missing_ok if importlib.util.find_spec(m) is not None]
assert not present, f"[runtime] pulled in {present}"
print("runtime venv has no", ", ".join(missing_ok))
PY
MTPF_TEST_FIXTURES="$work/fixtures" "$work/runtime/bin/python" -m pytest -q -p no:cacheprovider \
    tests/runtime tests/formats tests/data/test_bio_spans.py
"$work/runtime/bin/mtpf-deploy" predict --bundle "$work/fixtures/bundle" --adapter ner "alice smith went to paris" >/dev/null
"$work/runtime/bin/mtpf-deploy" bench --bundle "$work/fixtures/bundle" --quick --no-baselines --out "$work/bench" >/dev/null
test -s "$work/bench/bench.json"
# the app side packs, inspects and tests an adapter without torch
"$work/runtime/bin/mtpf-deploy" pack --bundle "$work/fixtures/bundle" --adapter "$work/fixtures/adapters/ner" \
    --name app-ner --out "$work/app-ner.mtpfa" --ort-adapter --description "app NER" --license mit >/dev/null
test -s "$work/app-ner.onnx_adapter"
"$work/runtime/bin/mtpf-deploy" inspect "$work/app-ner.mtpfa" --bundle "$work/fixtures/bundle" | grep -q "backbone hash matches"
"$work/runtime/bin/mtpf-deploy" inspect --json "$work/app-ner.mtpfa" | "$work/runtime/bin/python" -c \
    "import json, sys; assert json.load(sys.stdin)['card']['license'] == 'mit'"
"$work/runtime/bin/mtpf-deploy" predict --bundle "$work/fixtures/bundle" --adapter "$work/app-ner.mtpfa" "alice smith went to paris" \
    | grep -q '"entities"'
# and a torch command says which extra it needs, in one line
for cmd in "export --out $work/x" "adapt ner --train x --out $work/x" "pretrain --out $work/x" "evaluate --out $work/x"; do
    if out=$("$work/runtime/bin/mtpf-deploy" $cmd 2>&1); then echo "'$cmd' ran without torch"; exit 1; fi
    echo "$out" | grep -q "needs the \[" || { echo "'$cmd' on [runtime]: $out"; exit 1; }
    if echo "$out" | grep -q Traceback; then echo "'$cmd' on [runtime] printed a traceback"; exit 1; fi
done

echo "== [export] alone"
"$PYTHON" -m venv "$work/export"
pip_in "$work/export" -e '.[export]'
"$work/export/bin/python" -c "import importlib.util as u; bad = [m for m in ('peft', 'seqeval') if u.find_spec(m)]; assert not bad, bad"
"$work/export/bin/mtpf-deploy" export --backbone "$work/fixtures/tiny_bert" \
    --adapters "ner=$work/fixtures/adapters/ner,tc=$work/fixtures/adapters/tc" --out "$work/exported"
"$work/export/bin/mtpf-deploy" predict --bundle "$work/exported" --adapter tc "pizza and pasta" >/dev/null
echo "extras OK"
