"""The on-device runtime: adapter switching, verification, offsets, long texts, concurrency."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from mtpf_deploy.data.tokenization import truncated_rows
from mtpf_deploy.errors import MtpfError
from mtpf_deploy.runtime import SystemModel


@pytest.fixture(scope="module")
def system(tiny_bundle):
    return SystemModel.load(tiny_bundle, threads=1)


def test_runtime_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import mtpf_deploy.runtime, mtpf_deploy.cli\n"
            "assert not any(m == 'torch' or m.startswith('torch.') for m in sys.modules if sys.modules[m])\n"
            "print('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr


def test_active_adapter_changes_the_output(system):
    rows, _ = truncated_rows(system.tokenizer, ["alice smith went to paris"], 64)
    base, _ = system.run_ids(rows)
    for name in ("ner", "tc"):
        with_adapter, _ = system.run_ids(rows, system.load_adapter(name))
        assert np.abs(with_adapter - base).max() > 1e-3, name
    again, _ = system.run_ids(rows)  # and nothing sticks after the call
    np.testing.assert_array_equal(again, base)


def test_tasks_produce_sensible_results(system):
    ents = system.entities(["we met Alice Smith in Paris yesterday"], "ner")[0]
    assert [(e.text, e.label) for e in ents] == [("Alice Smith", "PER"), ("Paris", "LOC")]
    res = system.classify(["the team saw a goal and a match", "pizza and pasta and soup"], "tc")
    assert [r.label for r in res] == ["sport", "food"]
    assert abs(sum(res[0].probabilities.values()) - 1) < 1e-5 and not res[0].truncated
    emb = system.embed(["hello", "the team"])
    assert emb.shape == (2, 32) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    with pytest.raises(MtpfError, match="needs a tc adapter"):
        system.classify(["x"], "ner")


@pytest.mark.parametrize("text", ["", "   \t\n ", "Paris 😀😀 東京 Paris", "Zoë café\u0301 in Paris\u0301 !",
                                  "Alice Smith ﷽ ⁂ went to\u200b Rome", "\u0301 Paris"])
def test_offsets_are_exact_for_odd_text(system, text):
    for e in system.entities([text], "ner")[0]:
        assert text[e.start : e.end] == e.text
        assert e.text == e.text.strip() and e.text


def test_long_text_runs_in_windows(system):
    text = " ".join(["we met Alice Smith in Paris"] * 120)  # ~840 sub-words, max length 128
    ents = system.entities([text], "ner")[0]
    locs = [e for e in ents if e.label == "LOC"]
    # one window holds ~18 repetitions; far more found (and found near the end) means all windows ran
    assert len(locs) >= 60 and max(e.start for e in locs) > len(text) * 0.9
    assert all(text[e.start : e.end] == e.text for e in ents)
    starts = [e.start for e in ents]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)  # no duplicates from overlaps
    cls = system.classify([text], "tc")[0]
    assert cls.truncated and cls.tokens > 128


def test_concurrent_callers_get_sequential_results(system):
    texts = ["Alice Smith in Paris", "the team scored a goal", "Rome and Oslo", "pizza with a laptop"]
    jobs = [(i % 2, texts[i % 4]) for i in range(200)]

    def call(job):
        kind, text = job
        if kind == 0:
            return system.entities([text], "ner")[0]
        return system.classify([text], "tc")[0]

    sequential = [call(j) for j in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:  # 8 threads, each making the 200 calls
        per_thread = list(pool.map(lambda _: [call(j) for j in jobs], range(8)))
    assert all(results == sequential for results in per_thread)  # exact equality, scores included


def _rewrite(src: Path, dst: Path, change) -> Path:
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(members["manifest.json"])
    change(manifest, members)
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as z:
        for n, d in members.items():
            z.writestr(n, d)
    return dst


def test_bad_adapter_files_are_refused_clearly(system, tiny_bundle, tmp_path):
    good = tiny_bundle / "adapters/ner.mtpfa"
    data = good.read_bytes()
    wrong_bb = _rewrite(good, tmp_path / "bb.mtpfa", lambda m, _: m["backbone"].update(weights_sha256="ab" * 32))
    with pytest.raises(MtpfError, match=f"made for backbone {'ab' * 32}, but this system runs backbone "
                                        f"{system.backbone['weights_sha256']}"):
        system.load_adapter(wrong_bb)
    version = _rewrite(good, tmp_path / "v.mtpfa", lambda m, _: m.update(version=99))
    with pytest.raises(MtpfError, match="format version 99 is not supported"):
        system.load_adapter(version)
    (tmp_path / "trunc.mtpfa").write_bytes(data[: len(data) // 2])
    with pytest.raises(MtpfError, match="corrupt or truncated"):
        system.load_adapter(tmp_path / "trunc.mtpfa")
    flipped = bytearray(data)
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("lora.safetensors")
    flipped[info.header_offset + 30 + len(info.filename) + 100] ^= 0xFF  # a byte inside the LoRA member
    (tmp_path / "flip.mtpfa").write_bytes(bytes(flipped))
    with pytest.raises(MtpfError, match="corrupt"):
        system.load_adapter(tmp_path / "flip.mtpfa")
    (tmp_path / "junk.mtpfa").write_bytes(b"not a zip at all")
    with pytest.raises(MtpfError, match="corrupt or truncated"):
        system.load_adapter(tmp_path / "junk.mtpfa")
    with pytest.raises(MtpfError, match="no such file and no adapter of that name"):
        system.load_adapter(tmp_path / "missing.mtpfa")


def test_bundle_checks(tiny_bundle, tmp_path):
    import shutil

    copy = tmp_path / "b"
    shutil.copytree(tiny_bundle, copy)
    with open(copy / "backbone.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(MtpfError, match="does not match the sha256 in its manifest"):
        SystemModel.load(copy)
    with pytest.raises(MtpfError, match="no manifest.json"):
        SystemModel.load(tmp_path)


def test_slot_feeds_equal_onnxruntimes_own_lora_adapter(tiny_bundle, tmp_path):
    """The runtime feeds an adapter's A/B as the slot inputs of each call; ONNX Runtime's multi-LoRA
    mechanism (``LoraAdapter`` + ``RunOptions.add_active_adapter``) on the same arrays is the reference."""
    from safetensors.numpy import load

    with zipfile.ZipFile(tiny_bundle / "adapters/ner.mtpfa") as z:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        arrays = load(z.read("lora.safetensors"))
    assert arrays["layer.0.query.lora_A"].shape == (4, 32)
    fmt = ort.AdapterFormat()
    fmt.set_adapter_version(1)
    fmt.set_model_version(1)
    values = {k: ort.OrtValue.ortvalue_from_numpy(v) for k, v in arrays.items()}
    fmt.set_parameters(values)
    fmt.export_adapter(str(tmp_path / "ner.onnx_adapter"))
    reference = ort.LoraAdapter()
    reference.Load(str(tmp_path / "ner.onnx_adapter"))
    session = ort.InferenceSession(str(tiny_bundle / "backbone.onnx"))
    options = ort.RunOptions()
    options.add_active_adapter(reference)
    feeds = {"input_ids": np.array([[2, 10, 11, 3]]), "attention_mask": np.ones((1, 4), np.int64)}
    expected = session.run(None, feeds, options)[0]
    assert np.abs(expected - session.run(None, feeds)[0]).max() > 1e-3  # the adapter changes the output
    system = SystemModel.load(tiny_bundle, threads=1)
    hidden, _ = system.run_ids([[2, 10, 11, 3]], system.load_adapter("ner"))
    np.testing.assert_allclose(hidden, expected, atol=1e-6)
