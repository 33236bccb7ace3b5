"""A bundle driven by ONNX Runtime's own LoRA API, without mtpf-deploy (docs/formats.md, "Plain ONNX Runtime").

Needs onnxruntime, tokenizers, safetensors and numpy. The same steps work in ONNX Runtime's Java, C#, C++
and JS APIs: open backbone.onnx with the manifest's ``backbone.onnxruntime`` options, load the adapter's
``.onnx_adapter`` (written by ``mtpf-deploy pack --ort-adapter`` or ``export --ort-adapters``) as a
``LoraAdapter``, make it active in the run options, and apply the head from the ``.mtpfa`` file.

    python docs/examples/plain_onnxruntime.py BUNDLE ADAPTER.mtpfa "some text" ...

prints one JSON object per text: token labels (ner), a label (tc) or a mean-pooled embedding (lora)."""
from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
from safetensors.numpy import load
from tokenizers import Tokenizer

# the manifest's names for ONNX Runtime's graph optimisation levels
LEVELS = {"disable_all": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
          "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}


def open_backbone(bundle: Path) -> tuple[ort.InferenceSession, Tokenizer, dict]:
    """The backbone session with the options its manifest records, and the tokenizer."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    recorded = manifest["backbone"].get("onnxruntime", {})
    options = ort.SessionOptions()
    options.log_severity_level = recorded.get("log_severity_level", 3)  # no warning per LoRA slot
    for key, value in recorded.get("session_config", {}).items():  # e.g. SkipLayerNormFusion off
        options.add_session_config_entry(key, value)
    options.graph_optimization_level = LEVELS[recorded.get("graph_optimization_level", "all")]
    session = ort.InferenceSession(str(bundle / manifest["backbone"]["file"]), options,
                                   providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(bundle / manifest["tokenizer"]))
    return session, tokenizer, manifest


def read_mtpfa(path: Path) -> tuple[dict, dict[str, np.ndarray] | None]:
    """The adapter's manifest (labels, task, pooling) and its head, if it has one."""
    with zipfile.ZipFile(path) as z:
        manifest = json.loads(z.read("manifest.json"))
        head = load(z.read("head.safetensors")) if "head.safetensors" in z.namelist() else None
    return manifest, head


def run_adapter(bundle: Path, mtpfa: Path, texts: list[str]) -> list[dict]:
    session, tokenizer, _ = open_backbone(bundle)
    manifest, head = read_mtpfa(mtpfa)
    options = ort.RunOptions()
    lora_file = mtpfa.with_suffix(".onnx_adapter")
    if lora_file.exists():  # a head-only adapter has none
        lora = ort.LoraAdapter()
        lora.Load(str(lora_file))
        options.add_active_adapter(lora)
    tokenizer.no_padding()  # some tokenizer.json files pad to a fixed length; one text per run needs none
    tokenizer.enable_truncation(manifest["max_length"])
    out = []
    for text in texts:
        ids = np.array([tokenizer.encode(text).ids], np.int64)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)}, options)[0][0]
        if manifest["task"] == "ner":  # a label per token
            logits = hidden @ head["weight"].T + head["bias"]
            out.append({"text": text, "ids": ids[0].tolist(),
                        "labels": [manifest["labels"][i] for i in logits.argmax(-1)]})
            continue
        pooled = hidden.mean(0)  # mean over every token, [CLS] and [SEP] included
        if manifest["normalize"]:
            pooled = pooled / max(np.linalg.norm(pooled), 1e-12)
        if manifest["task"] == "tc":
            out.append({"text": text, "label": manifest["labels"][int((head["weight"] @ pooled + head["bias"]).argmax())]})
        else:
            out.append({"text": text, "embedding": pooled.tolist()})
    return out


if __name__ == "__main__":
    for result in run_adapter(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]):
        print(json.dumps(result))
