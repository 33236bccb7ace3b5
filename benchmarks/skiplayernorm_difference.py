"""How far ONNX Runtime's default session options move a bundle's hidden states: the bundle records
``optimization.disable_specified_optimizers: SkipLayerNormFusion`` (docs/formats.md, "Plain ONNX Runtime");
a plain ``InferenceSession`` without it fuses residual + LayerNorm into SkipLayerNormalization.

    .venv/bin/mtpf-deploy export --backbone default --out b8
    .venv/bin/python benchmarks/skiplayernorm_difference.py b8"""
from __future__ import annotations

import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

TEXTS = ["Alice Smith flew from Paris to Oslo on Monday to meet the Acme board.",
         " ".join(["Alice Smith flew from Paris to Oslo on Monday to meet the Acme board."] * 7)]


def hidden(bundle: str, config: dict[str, str], ids: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    for key, value in config.items():
        options.add_session_config_entry(key, value)
    session = ort.InferenceSession(f"{bundle}/backbone.onnx", options, providers=["CPUExecutionProvider"])
    return session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]


if __name__ == "__main__":
    bundle = sys.argv[1]
    tokenizer = Tokenizer.from_file(f"{bundle}/tokenizer.json")
    tokenizer.no_padding()  # all-MiniLM-L6-v2's tokenizer.json pads to 128
    for text in TEXTS:
        ids = np.array([tokenizer.encode(text).ids], np.int64)
        recorded = hidden(bundle, {"optimization.disable_specified_optimizers": "SkipLayerNormFusion"}, ids)
        default = hidden(bundle, {}, ids)
        diff = np.abs(recorded - default)
        print(f"hidden states, recorded options vs ONNX Runtime's defaults: max |diff| {diff.max():.4f}, "
              f"mean {diff.mean():.5f} ({ids.shape[1]} tokens)")
