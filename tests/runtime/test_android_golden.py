"""The Android core's golden vectors (android_demo/core/src/test/resources/golden.json) are what the
Python runtime computes today on the committed tiny bundle: regenerate and compare (fails on drift of
the tokenizer, windowing, decoding, classification or int8 quantisation)."""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "android_demo" / "core" / "src" / "test" / "resources" / "golden.json"


def load_generator():
    spec = importlib.util.spec_from_file_location("android_golden", REPO / "scripts" / "android_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def same(a, b, path="golden") -> list[str]:
    """Differences between two JSON values: ints, strings and structure exactly, floats to 1e-4."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())} differ"]
        return [d for k in a for d in same(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in same(x, y, f"{path}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        ok = isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-4)
        return [] if ok else [f"{path}: {a!r} != {b!r}"]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]


def test_golden_vectors_have_not_drifted():
    committed = json.loads(GOLDEN.read_text(encoding="utf-8"))
    fresh = json.loads(json.dumps(load_generator().golden()))
    differences = same(committed, fresh)
    assert not differences, ("golden.json drifted from the Python runtime (regenerate with "
                             "`python scripts/android_golden.py` if the change is intended):\n" + "\n".join(differences[:20]))


def test_golden_covers_what_the_issue_names():
    g = json.loads(GOLDEN.read_text(encoding="utf-8"))
    texts = [c["text"] for c in g["cases"]]
    assert "" in texts and any("\U0001F44D" in t for t in texts) and any("北京" in t for t in texts)
    assert any(len(c["ids"]) > 512 for c in g["cases"]) and any("é" in t for t in texts)
    assert sum(len(c["decode"]["entities"]) for c in g["cases"]) > 30
    # an entity holding a character outside the BMP: code-point offsets differ from UTF-16 ones there
    assert any(ord(ch) > 0xFFFF for c in g["cases"] for e in c["decode"]["entities"] for ch in e["text"])


def test_same_detects_changes():
    assert same({"a": [1, 2.0]}, {"a": [1, 2.00001]}) == []
    assert same({"a": [1, 2.0]}, {"a": [1, 2.1]}) and same({"a": 1}, {"a": 2}) and same({"a": "x"}, {"b": "x"})
