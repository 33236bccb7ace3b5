"""Plain ONNX Runtime as a consumer (issue 23): ``export --ort-adapters`` / ``pack --ort-adapter`` write ONNX
Runtime's own LoRA file in the form the bundle's graph takes (int8 for int8 bundles), the manifest records
the session options the graph needs, and the documented recipe (docs/examples/plain_onnxruntime.py) gives
SystemModel's numbers with no warning at session creation."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from click.testing import CliRunner

from mtpf_deploy.cli import main
from mtpf_deploy.errors import BundleError
from mtpf_deploy.export.write_bundle import export_bundle
from mtpf_deploy.formats.bundle import GRAPH_OPTIMIZATION_LEVELS, ONNXRUNTIME, read_bundle_manifest
from mtpf_deploy.runtime import SystemModel
from tests.export.test_parity import TEXTS, _rows

RECIPE = Path(__file__).resolve().parents[2] / "docs/examples/plain_onnxruntime.py"


def recipe():
    spec = importlib.util.spec_from_file_location("plain_onnxruntime", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bundles(tiny_bert, tiny_adapters, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ort_adapters")
    for precision in ("fp32", "int8"):
        export_bundle(str(tiny_bert), tiny_adapters, tmp / precision, precision=precision, ort_adapters=True,
                      log=lambda m: None)
    return tmp


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_onnx_adapter_takes_the_graphs_form_and_gives_the_runtimes_numbers(bundles, precision):
    bundle = bundles / precision
    manifest = read_bundle_manifest(bundle)
    assert manifest["backbone"]["onnxruntime"] == ONNXRUNTIME
    system = SystemModel.load(bundle, threads=1)
    plain = recipe()
    session, _, _ = plain.open_backbone(bundle)
    rows = _rows(system, TEXTS)
    for name in ("ner", "tc"):
        path = bundle / "adapters" / f"{name}.onnx_adapter"
        params = ort.AdapterFormat.read_adapter(str(path)).get_parameters()
        dtypes = {v.numpy().dtype for k, v in params.items() if not k.endswith(".scale")}
        assert dtypes == {np.dtype(np.int8 if precision == "int8" else np.float32)}
        lora = ort.LoraAdapter()
        lora.Load(str(path))
        options = ort.RunOptions()
        options.add_active_adapter(lora)
        adapter = system.load_adapter(name)
        for row in rows:
            ids = np.array([row], np.int64)
            got = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)}, options)[0][0]
            expected, _ = system.run_ids([row], adapter)
            without = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
            assert np.abs(got - expected[0]).max() <= 1e-5
            assert np.abs(without - expected[0]).max() > 1e-3  # the adapter is what makes them equal


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_documented_recipe_matches_systemmodel_without_warnings(bundles, precision):
    bundle = bundles / precision
    system = SystemModel.load(bundle, threads=1)
    texts = [t for t in TEXTS if t]
    for name in ("ner", "tc"):
        run = subprocess.run([sys.executable, str(RECIPE), str(bundle), str(bundle / f"adapters/{name}.mtpfa"), *texts],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and run.stderr == "", run.stderr[-2000:]
        results = [json.loads(line) for line in run.stdout.splitlines()]
        adapter = system.load_adapter(name)
        if name == "tc":
            assert [r["label"] for r in results] == [c.label for c in system.classify(texts, adapter)]
            continue
        for r, row in zip(results, _rows(system, texts)):
            assert r["ids"] == row
            hidden, _ = system.run_ids([row], adapter)
            logits = hidden[0] @ adapter.weight.T + adapter.bias
            assert r["labels"] == [adapter.labels[i] for i in logits.argmax(-1)]


def test_without_the_recorded_options_onnx_runtime_warns_per_slot(bundles):
    """The control for 'no warning flood': a session with ONNX Runtime's default options does warn."""
    code = ("import onnxruntime as ort, sys; ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])")
    run = subprocess.run([sys.executable, "-c", code, str(bundles / "fp32/backbone.onnx")], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0 and run.stderr.count("appears in graph inputs") >= 24, run.stderr[-1000:]


def test_pack_writes_the_same_file_beside_the_mtpfa(bundles, tiny_adapters, tmp_path):
    bundle = bundles / "int8"

    def pack(name, folder, *extra):
        return CliRunner().invoke(main, ["pack", "--bundle", str(bundle), "--adapter", str(folder), "--name", name,
                                         "--out", str(tmp_path / f"{name}.mtpfa"), "--ort-adapter", *extra])

    res = pack("ner", tiny_adapters["ner"])
    assert res.exit_code == 0 and "ONNX Runtime LoRA adapter" in res.output, res.output
    ours = ort.AdapterFormat.read_adapter(str(tmp_path / "ner.onnx_adapter")).get_parameters()
    exported = ort.AdapterFormat.read_adapter(str(bundle / "adapters/ner.onnx_adapter")).get_parameters()
    assert ours.keys() == exported.keys()
    assert all(np.array_equal(ours[k].numpy(), exported[k].numpy()) for k in ours)
    (tmp_path / "ner.mtpfa").unlink()  # the .onnx_adapter is left: both land or neither
    res = pack("ner", tiny_adapters["ner"])
    assert res.exit_code == 1 and "ner.onnx_adapter already exists" in res.output, res.output
    assert not (tmp_path / "ner.mtpfa").exists()
    assert pack("ner", tiny_adapters["ner"], "--overwrite").exit_code == 0


def test_a_bad_recorded_session_option_is_refused(bundles, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(bundles / "fp32", copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    for bad, message in (({"session_config": {"x": 1}, "log_severity_level": 3}, "map strings to strings"),
                         ({"session_config": {}, "log_severity_level": 9}, "0..4"), ([], "must be dict"),
                         ({"session_config": {}, "log_severity_level": 3, "graph_optimization_level": "max"},
                          "graph_optimization_level' must be one of disable_all, basic, extended, all")):
        manifest["backbone"]["onnxruntime"] = bad
        (copy / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(BundleError, match=message):
            SystemModel.load(copy)


def test_the_recorded_graph_optimization_level_is_applied(bundles, tmp_path):
    """The recorded level reaches the session: ONNX Runtime's own optimized-model dump keeps every node of
    the exported graph at ``disable_all`` and folds some away at ``all``."""
    from mtpf_deploy.runtime.engines.onnx import session_options

    nodes = {}
    for level in ("disable_all", "all"):
        options = session_options(1, bundle=dict(ONNXRUNTIME, graph_optimization_level=level))
        options.optimized_model_filepath = str(tmp_path / f"{level}.onnx")
        ort.InferenceSession(str(bundles / "int8" / "backbone.onnx"), options, providers=["CPUExecutionProvider"])
        nodes[level] = len(onnx.load(str(tmp_path / f"{level}.onnx")).graph.node)
    source = len(onnx.load(str(bundles / "int8" / "backbone.onnx")).graph.node)
    assert nodes["disable_all"] == source and nodes["all"] < source, (source, nodes)
    assert recipe().LEVELS.keys() == set(GRAPH_OPTIMIZATION_LEVELS)
