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

echo "== [export] alone"
"$PYTHON" -m venv "$work/export"
pip_in "$work/export" -e '.[export]'
"$work/export/bin/python" -c "import importlib.util as u; bad = [m for m in ('peft', 'seqeval') if u.find_spec(m)]; assert not bad, bad"
"$work/export/bin/mtpf-deploy" export --backbone "$work/fixtures/tiny_bert" \
    --adapters "ner=$work/fixtures/adapters/ner,tc=$work/fixtures/adapters/tc" --out "$work/exported"
"$work/export/bin/mtpf-deploy" predict --bundle "$work/exported" --adapter tc "pizza and pasta" >/dev/null
echo "extras OK"
