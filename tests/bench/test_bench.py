"""`mtpf-deploy bench` (issue 9): the --quick run on the tiny bundle writes the documented schema,
the baselines compute the same function as ours (so the comparison is fair), bad input is a clear error."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from mtpf_deploy.bench.baselines import eager_peft, export_merged_int8, merged_backbone
from mtpf_deploy.cli import main
from mtpf_deploy.formats.adapter_file import read_adapter_file
from mtpf_deploy.formats.lora_slots import Slot
from mtpf_deploy.runtime import SystemModel

TARGETS = 22  # 4 latency ratios at 3 lengths + 8 others (issues 9, 25) + 2 of mixed batches (issue 26)


def _bench(*args: str):
    return CliRunner().invoke(main, ["bench", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def quick(tiny_bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    done = _bench("--bundle", str(tiny_bundle), "--quick", "--out", str(out))
    assert done.exit_code == 0, done.output
    return out, json.loads((out / "bench.json").read_text())


def test_quick_run_writes_the_documented_schema(quick):
    out, result = quick
    assert result["schema"] == "mtpf-bench/1"
    assert {"machine", "settings", "bundle", "latency", "end_to_end", "long_text", "adapters", "throughput",
            "roofline", "targets", "skipped", "command"} <= set(result)
    assert set(result["machine"]["flags"]) >= {"avx2", "avx512_vnni"} or result["machine"]["machine"] != "x86_64"
    latency = result["latency"]["threads=1"]
    for variant in ("ours fp32 + adapter", "ours fp32, no adapter", "merged per-task int8", "PyTorch eager + PEFT",
                    "ours fp32 + adapter merged at load", "ours fp32 + TC-sized adapter", "merged per-task int8 (TC-sized)",
                    "ours fp32, no adapter, all-slot graph"):
        for n in ("16", "32"):
            stats = latency[variant][n]
            assert 0 < stats["median_ms"] <= stats["p95_ms"] and stats["n"] == 3
    assert any("ExecuTorch" in k for k in result["skipped"])  # the tiny bundle has no ExecuTorch backbone
    rss = result["adapters"]["rss_mb"]
    assert set(rss["ours (bundle + N adapters)"]) == {"0", "1", "2"} and set(rss["N merged per-task int8 models"]) == {"1", "2"}
    assert set(result["backend_rss_mb"]["rss_mb"]) == {"onnx"} and result["backend_rss_mb"]["rss_mb"]["onnx"] > 10
    assert len(result["targets"]) == TARGETS and all({"target", "value", "limit", "met"} <= set(t) for t in result["targets"])
    fused = {t["target"]: t["met"] for t in result["targets"]}
    assert fused["attention fused (MultiHeadAttention per layer)"] is True
    md = (out / "bench.md").read_text()
    assert "## Targets (issues 9, 25 and 26)" in md and "mtpf-deploy bench --bundle" in md
    mixed = result["mixed_batches"]  # the tiny bundle's ner and tc in turn, run one adapter at a time (no row adapters)
    assert mixed["row_adapters"] is False and mixed["adapters"][:2] == ["ner", "tc"]
    assert mixed["32"]["throughput mixed / serial"] > 0 and "## Mixed-adapter batches" in md
    for png in ("latency.png", "memory.png", "roofline.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"


def test_no_baselines_needs_only_the_bundle(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # as in a runtime-only install: the GEMM ceiling is skipped
    done = _bench("--bundle", str(tiny_bundle), "--quick", "--no-baselines", "--lengths", "8", "--busy-sibling",
                  "--out", str(tmp_path))
    assert done.exit_code == 0, done.output
    result = json.loads((tmp_path / "bench.json").read_text())
    ours = {"ours fp32 + adapter", "ours fp32, no adapter", "ours fp32 + adapter merged at load",
            "ours fp32 + TC-sized adapter", "ours fp32, no adapter, all-slot graph"}
    assert set(result["latency"]["threads=1"]) == ours
    # the same table with a load generator on another CPU (or on ours, recorded, when pinned to none)
    assert set(result["latency_busy_sibling"]["threads=1"]) == ours and result["settings"]["sibling_load"]["busy_sibling"]
    assert "busy sibling core" in (tmp_path / "bench.md").read_text() and "--busy-sibling" in result["command"]
    assert result["skipped"]["PyTorch eager + PEFT"] == "--no-baselines"
    assert result["roofline"] == {} and "needs the onnx package" in result["skipped"]["GEMM ceiling (roofline)"]
    assert not (tmp_path / "roofline.png").exists() and (tmp_path / "latency.png").exists()


def test_baselines_compute_what_ours_computes(tiny_bert, tiny_bundle, tmp_path):
    import torch

    system = SystemModel.load(tiny_bundle)
    lora = read_adapter_file(tiny_bundle / "adapters" / "ner.mtpfa").lora
    slots = [Slot.from_json(s) for s in system.backbone["slots"]]
    rows = [[system.cls_id, *range(5, 20), system.sep_id]]
    ours, _ = system.run_ids(rows, "ner")
    with torch.inference_mode():
        eager = eager_peft(tiny_bert, lora, slots)(input_ids=torch.tensor(rows)).last_hidden_state.numpy()
    np.testing.assert_allclose(eager, ours, atol=1e-4)
    folder = merged_backbone(tiny_bert, lora, slots, tmp_path / "merged")
    from transformers import BertModel

    with torch.inference_mode():
        merged = BertModel.from_pretrained(folder, add_pooling_layer=False)(input_ids=torch.tensor(rows)).last_hidden_state
    np.testing.assert_allclose(merged.numpy(), ours, atol=1e-4)
    import onnxruntime as ort

    export_merged_int8(folder, tmp_path / "merged.onnx")
    session = ort.InferenceSession(str(tmp_path / "merged.onnx"), providers=["CPUExecutionProvider"])
    assert {i.name for i in session.get_inputs()} == {"input_ids", "attention_mask"}
    ids = np.array(rows)
    int8 = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
    cos = (int8 * ours).sum(-1) / np.linalg.norm(int8, axis=-1) / np.linalg.norm(ours, axis=-1)
    assert cos.mean() > 0.95
    # any such ONNX encoder can be timed beside ours
    done = _bench("--bundle", str(tiny_bundle), "--quick", "--no-baselines", "--compare", f"mine={tmp_path / 'merged.onnx'}",
                  "--out", str(tmp_path / "o"))
    assert done.exit_code == 0, done.output
    result = json.loads((tmp_path / "o" / "bench.json").read_text())
    assert result["latency"]["threads=1"]["mine"]["16"]["median_ms"] > 0 and "mine" in result["throughput"]["4"]


@pytest.mark.parametrize("args,fragment", [
    (["--adapter", "nope"], "has no adapter 'nope' (has ner, tc)"),
    (["--lengths", "a,b"], "expected comma-separated integers"),
    (["--threads", "0"], "--threads must be positive"),
    (["--compare", "no-equals-sign"], "expected NAME=MODEL.onnx"),
    (["--compare", "x=/nonexistent/model.onnx"], "--compare x=/nonexistent/model.onnx: no such file"),
])
def test_bad_arguments_are_clear_errors(tiny_bundle, tmp_path, args, fragment):
    done = CliRunner().invoke(main, ["bench", "--bundle", str(tiny_bundle), "--quick", "--out", str(tmp_path), *args])
    assert done.exit_code != 0 and fragment in done.output and "Traceback" not in done.output


def test_a_bundle_without_adapters_is_a_clear_error(tiny_bert, tmp_path):
    from mtpf_deploy.export.write_bundle import export_bundle

    export_bundle(str(tiny_bert), {}, tmp_path / "bare", quantize="none", log=lambda m: None)
    done = CliRunner().invoke(main, ["bench", "--bundle", str(tmp_path / "bare"), "--quick", "--out", str(tmp_path / "o")])
    assert done.exit_code != 0 and "lists no adapter to benchmark" in done.output
