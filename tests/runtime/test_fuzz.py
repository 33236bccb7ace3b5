"""Seeded fuzzing of the runtime's untrusted inputs: hundreds of mutated adapter files and texts.
Each must either load and run giving finite results with valid offsets, or be refused with an
``MtpfError`` — never another exception (issue 14)."""
from __future__ import annotations

import json
import random
import time
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtpf_deploy.errors import InputError, MtpfError
from mtpf_deploy.runtime import SystemModel
from tests.runtime.crafting import HEAD, LORA, MANIFEST, craft, members, write_zip

TEXTS = ["alice smith went to paris", "", "pizza and pasta", "goal " * 200, "Chloe\u0301 in Rome"]
VALUES = [None, -1, 0, 1, 2, 10**12, 1.5, float("inf"), "", "x", "../../etc", [], [1], {}, {"a": 1}, True, False]


@pytest.fixture(scope="module")
def system(tiny_bundle):
    return SystemModel.load(tiny_bundle, threads=1)


def mutate(rng: random.Random, src, dst):
    """One random corruption of a good adapter file."""
    kind = rng.choice(["bytes", "truncate", "manifest", "manifest-deep", "tensor", "members", "layout"])
    if kind == "bytes":
        data = bytearray(src.read_bytes())
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        dst.write_bytes(bytes(data))
    elif kind == "layout":  # issue 21: bytes in front, between, behind; a member's local header edited
        from scripts.hostile_archives import hostile

        dst.write_bytes(rng.choice(list(hostile(src.read_bytes()).values())))
    elif kind == "truncate":
        data = src.read_bytes()
        dst.write_bytes(data[: rng.randrange(len(data))])
    elif kind in ("manifest", "manifest-deep"):
        def edit(m):
            target = m
            if kind == "manifest-deep" and isinstance(m.get("lora"), dict):
                target = rng.choice([m["lora"], m["backbone"], m])
            key = rng.choice(sorted(target) + ["new_key"])
            if rng.random() < 0.2:
                target.pop(key, None)
            else:
                target[key] = rng.choice(VALUES)
        craft(src, dst, manifest=edit, rehash=rng.random() < 0.8)
    elif kind == "tensor":
        def edit(t):
            name = rng.choice(sorted(t))
            v = t[name]
            op = rng.choice(["nan", "shape", "dtype", "drop", "rename", "huge"])
            if op == "nan":
                v.flat[rng.randrange(v.size)] = rng.choice([np.nan, np.inf, -np.inf])
            elif op == "shape":
                t[name] = np.ascontiguousarray(v.reshape(-1)[: max(1, v.size - rng.randint(1, 3))])
            elif op == "dtype":
                t[name] = v.astype(rng.choice([np.float16, np.float64, np.int32]))
            elif op == "drop":
                t.pop(name)
            elif op == "rename":
                t[rng.choice(["input_ids", "layer.0.query.lora_A", "weight", "x"])] = t.pop(name)
            else:
                t[name] = v * 1e30
        parts = members(src)
        which = rng.choice([n for n in (LORA, HEAD) if n in parts])
        craft(src, dst, **{"lora" if which == LORA else "head": edit})
    else:
        parts = list(members(src).items())
        op = rng.choice(["drop", "dup", "extra", "deflate"])
        if op == "drop":
            parts.pop(rng.randrange(len(parts)))
        elif op == "dup":
            parts.append(rng.choice(parts))
        elif op == "extra":
            parts.append((rng.choice(["x", "../x", "lora.onnx_adapter", "/abs"]), b"data"))
        write_zip(dst, parts, zipfile.ZIP_DEFLATED if op == "deflate" else zipfile.ZIP_STORED)
    return kind


def check_outputs(system, adapter):
    if adapter.task == "tc":
        for c in system.classify(TEXTS, adapter):
            assert np.isfinite(c.score) and all(np.isfinite(v) for v in c.probabilities.values())
    elif adapter.task == "ner":
        for text, ents in zip(TEXTS, system.entities(TEXTS, adapter)):
            for e in ents:
                assert text[e.start:e.end] == e.text and np.isfinite(e.score)
    vectors = system.embed(TEXTS, adapter)
    assert np.isfinite(vectors).all()


def test_mutated_adapters_load_cleanly_or_are_refused(system, tiny_bundle, tmp_path):
    rng = random.Random(1234)
    sources = [tiny_bundle / "adapters/ner.mtpfa", tiny_bundle / "adapters/tc.mtpfa"]
    outcomes: dict[str, int] = {}
    start, n = time.time(), 0
    while n < 400 and time.time() - start < 60:
        dst = tmp_path / f"m{n}.mtpfa"
        kind = mutate(rng, rng.choice(sources), dst)
        try:
            adapter = system.load_adapter(dst, name=f"fuzz{n}")
        except MtpfError:
            outcomes[f"{kind}: refused"] = outcomes.get(f"{kind}: refused", 0) + 1
        else:
            check_outputs(system, adapter)
            outcomes[f"{kind}: accepted"] = outcomes.get(f"{kind}: accepted", 0) + 1
            system.unload_adapter(adapter.name)
        dst.unlink()
        n += 1
    assert n >= 200, f"only {n} mutations in the time budget"
    assert sum(v for k, v in outcomes.items() if k.endswith("refused")) > n // 2, outcomes


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet=st.characters(codec=None), max_size=60), max_size=4))
def test_any_text_gives_valid_results_or_an_input_error(system, texts):
    system.load_adapter("ner")
    system.load_adapter("tc")
    try:
        ents = system.entities(texts, "ner")
        classes = system.classify(texts, "tc")
    except InputError:
        assert any(_has_surrogate(t) for t in texts)
        return
    for text, found in zip(texts, ents):
        for e in found:
            assert 0 <= e.start < e.end <= len(text) and text[e.start:e.end] == e.text
    for c in classes:
        assert np.isfinite(c.score) and abs(sum(c.probabilities.values()) - 1) < 1e-4


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def test_manifest_json_fuzz(system, tiny_bundle, tmp_path):
    parts = members(tiny_bundle / "adapters/tc.mtpfa")
    rng = random.Random(7)
    base = json.loads(parts[MANIFEST])
    for i in range(150):
        m = json.loads(json.dumps(base))
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(sorted(m))
            m[key] = rng.choice(VALUES)
        path = write_zip(tmp_path / f"j{i}.mtpfa", [(MANIFEST, json.dumps(m).encode())] +
                         [(n, d) for n, d in parts.items() if n != MANIFEST])
        try:
            adapter = system.load_adapter(path, name=f"j{i}")
        except MtpfError:
            continue
        check_outputs(system, adapter)
        system.unload_adapter(adapter.name)
