"""ONNX Runtime reads the LoRA adapter files the Android core writes (OrtAdapterFormat.kt), and running
with them active gives what feeding the slot inputs gives (the Python runtime's way).

    .venv/bin/python scripts/android_check_adapter.py BUNDLE OUT_DIR    # run by android_demo/build.sh"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mtpf_deploy.formats.adapter_file import read_adapter_file  # noqa: E402
from mtpf_deploy.formats.bundle import read_bundle_manifest  # noqa: E402
from mtpf_deploy.formats.lora_int8 import int8_feed  # noqa: E402
from mtpf_deploy.formats.lora_slots import Slot  # noqa: E402


def main(bundle: Path, written: Path) -> None:
    manifest = read_bundle_manifest(bundle)
    slots = [Slot.from_json(s) for s in manifest["backbone"]["slots"]]
    options = ort.SessionOptions()
    options.log_severity_level = 3  # slot defaults are graph inputs by design
    session = ort.InferenceSession(str(bundle / manifest["backbone"]["file"]), options, providers=["CPUExecutionProvider"])
    ids = np.array([[101, 2023, 2003, 1037, 3231, 102]], np.int64)
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    checked = 0
    for name, rel in manifest["adapters"].items():
        lora = read_adapter_file(bundle / rel).lora
        expected = {"": lora, ".int8": int8_feed(lora, slots)}
        for suffix, arrays in expected.items():
            path = written / f"{name}{suffix}.onnx_adapter"
            params = ort.AdapterFormat.read_adapter(str(path)).get_parameters()
            got = {k: v.numpy() for k, v in params.items()}
            assert got.keys() == arrays.keys(), (path, sorted(got), sorted(arrays))
            for k, v in arrays.items():
                assert got[k].dtype == v.dtype and got[k].shape == v.shape and np.array_equal(got[k], v), (path, k)
            if suffix == "":  # the fp32 bundle runs it: LoraAdapter active == slot inputs fed
                adapter = ort.LoraAdapter()
                adapter.Load(str(path))
                options = ort.RunOptions()
                options.add_active_adapter(adapter)
                with_adapter = session.run(None, feed, options)[0]
                fed = session.run(None, {**feed, **lora})[0]
                assert np.allclose(with_adapter, fed, atol=1e-6), (path, np.abs(with_adapter - fed).max())
            checked += 1
    print(f"ONNX Runtime {ort.__version__} read {checked} adapter files written by the Kotlin core; "
          "LoRA active via LoraAdapter == slot inputs fed")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
