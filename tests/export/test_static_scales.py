"""Static int8 activation scales (``export --activation-scales static --calibration-texts FILE``): every
``DynamicQuantizeLinear`` becomes a ``QuantizeLinear`` with a scale fixed from calibration texts, so a text's
numbers do not depend on its batch (and the runtime batches int8 rows) with no per-call range ops. The
reference: calibrated on one text with the ``max`` statistic, the static graph gives that text exactly what
ONNX Runtime's dynamic quantization gives it (the same scales, computed once)."""
from __future__ import annotations

import hashlib

import numpy as np
import onnx
import pytest

from mtpf_deploy.errors import MtpfError
from mtpf_deploy.export.write_bundle import export_bundle
from mtpf_deploy.runtime import SystemModel

WORDS = "alice smith went to paris with bob and visited the london office of acme corp on monday".split()
TEXTS = [" ".join(WORDS[i % 7 : i % 7 + 2 + (i * 5) % 11]) * (1 + i % 3) for i in range(12)]
QUIET = lambda m: None  # noqa: E731


def write_texts(path, texts):
    path.write_text("\n".join(texts) + "\n\n", encoding="utf-8")  # a trailing empty line is skipped
    return path


@pytest.fixture(scope="module")
def bundles(tiny_bert, tiny_adapters, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("static_scales")
    calibration = write_texts(tmp / "calibration.txt", TEXTS)
    export_bundle(str(tiny_bert), tiny_adapters, tmp / "static", activation_scales="static",
                  calibration_texts=str(calibration), log=QUIET)
    export_bundle(str(tiny_bert), tiny_adapters, tmp / "dynamic", log=QUIET)
    export_bundle(str(tiny_bert), tiny_adapters, tmp / "fp32", precision="fp32", log=QUIET)
    return tmp


def test_static_results_do_not_depend_on_the_batch(bundles):
    static = SystemModel.load(bundles / "static")
    assert not static.engine.rows_share_quantization and SystemModel.load(bundles / "dynamic").engine.rows_share_quantization
    alone = np.stack([static.embed(t) for t in TEXTS])
    np.testing.assert_array_equal(static.embed(TEXTS, batch_size=12), alone)
    for task in ("ner", "tc"):
        static.load_adapter(bundles / "static" / "adapters" / f"{task}.mtpfa")
    batched, alone_tc = static.classify(TEXTS, "tc", batch_size=12), [static.classify(t, "tc") for t in TEXTS]
    assert [r.label for r in batched] == [r.label for r in alone_tc]  # fp32 LoRA products: rounding only
    assert max(abs(r.probabilities[k] - a.probabilities[k]) for r, a in zip(batched, alone_tc) for k in a.probabilities) <= 1e-5
    ops = {n.op_type for n in onnx.load(str(bundles / "static" / "backbone.onnx")).graph.node}
    assert "DynamicQuantizeLinear" not in ops and "QuantizeLinear" in ops


def test_the_bundle_records_its_calibration(bundles):
    backbone = SystemModel.load(bundles / "static").backbone
    digest = hashlib.sha256("".join(t + "\n" for t in TEXTS).encode()).hexdigest()
    assert backbone["activation_scales"] == "static" and backbone["lora_precision"] == "fp32"
    assert backbone["calibration"] == {"texts": len(TEXTS), "sha256": digest, "statistic": "mean",
                                       "source": "calibration.txt"}
    assert backbone["fusions"]["static_activation_scales"] > 0


def test_static_scales_stay_close_to_fp32(bundles):
    """As faithful to fp32 as dynamic scales, give or take (tiny random model: hidden-state cosine)."""
    fp32, static, dynamic = (SystemModel.load(bundles / v) for v in ("fp32", "static", "dynamic"))
    rows = [fp32.tokenizer.encode(t).ids for t in TEXTS]

    def cosine(system):
        out = []
        for row in rows:
            a, b = system.run_ids([row])[0][0], fp32.run_ids([row])[0][0]
            out.append(float(np.mean((a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1))))
        return np.mean(out)

    assert cosine(static) >= 0.98 and cosine(static) >= cosine(dynamic) - 0.01


def test_calibrated_on_one_text_it_equals_dynamic_quantization_of_that_text(tiny_bert, tmp_path):
    text = TEXTS[5]
    export_bundle(str(tiny_bert), {}, tmp_path / "one", activation_scales="static", calibration_range="max",
                  calibration_texts=str(write_texts(tmp_path / "one.txt", [text])), slot_layouts=[], log=QUIET)
    export_bundle(str(tiny_bert), {}, tmp_path / "dyn", slot_layouts=[], log=QUIET)
    static, dynamic = SystemModel.load(tmp_path / "one"), SystemModel.load(tmp_path / "dyn")
    row = static.tokenizer.encode(text).ids
    np.testing.assert_allclose(static.run_ids([row])[0], dynamic.run_ids([row])[0], atol=1e-5)
    other = static.tokenizer.encode(TEXTS[2]).ids  # another text: its own dynamic ranges differ
    assert np.abs(static.run_ids([other])[0] - dynamic.run_ids([other])[0]).max() > 1e-4


@pytest.mark.parametrize("settings,message", [
    ({"activation_scales": "static"}, "needs --calibration-texts"),
    ({"activation_scales": "static", "precision": "fp32", "calibration_texts": "x"}, "needs --backend onnx and --precision int8"),
    ({"calibration_texts": "x"}, "only used with --activation-scales static"),
    ({"activation_scales": "static", "calibration_texts": "empty"}, "no calibration texts"),
    ({"activation_scales": "static", "calibration_texts": "missing"}, "no such file"),
])
def test_bad_calibration_settings_are_refused_before_anything_is_written(tiny_bert, tmp_path, settings, message):
    write_texts(tmp_path / "x", TEXTS)
    (tmp_path / "empty").write_text("\n \n", encoding="utf-8")
    settings = {k: str(tmp_path / v) if k == "calibration_texts" else v for k, v in settings.items()}
    with pytest.raises(MtpfError, match=message):
        export_bundle(str(tiny_bert), {}, tmp_path / "out", log=QUIET, **settings)
    assert not (tmp_path / "out").exists()


def test_row_adapters_with_static_scales_mix_exactly(tiny_bert, tiny_adapters, tmp_path):
    export_bundle(str(tiny_bert), tiny_adapters, tmp_path / "rows", row_adapters=True, activation_scales="static",
                  calibration_texts=str(write_texts(tmp_path / "c.txt", TEXTS)), log=QUIET)
    system = SystemModel.load(tmp_path / "rows")
    assert system.backbone["activation_scales"] == "static" and system.engine.row_adapters
    for task in ("ner", "tc"):
        system.load_adapter(tmp_path / "rows" / "adapters" / f"{task}.mtpfa")
    reqs = [(TEXTS[:3], "ner"), (TEXTS[2:6], "tc"), (TEXTS[1:2], None)]
    for (inputs, adapter), result in zip(reqs, system.run_mixed(reqs)):
        alone = system.embed(inputs) if adapter is None else system.predict(inputs, adapter)
        if adapter is None:
            np.testing.assert_array_equal(result, alone)
        elif adapter == "tc":
            assert [r.label for r in result] == [a.label for a in alone]
            assert all(abs(r.probabilities[k] - a.probabilities[k]) <= 1e-5 for r, a in zip(result, alone)
                       for k in a.probabilities)
        else:
            assert [[(e.label, e.start, e.end) for e in r] for r in result] == \
                   [[(e.label, e.start, e.end) for e in a] for a in alone]
            assert all(abs(x.score - y.score) <= 1e-5 for r, a in zip(result, alone) for x, y in zip(r, a))
