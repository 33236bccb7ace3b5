"""The bundle FOLDER the system ships: backbone ONNX + tokenizer + manifest (+ adapters).

    manifest.json     {"format": "mtpf-bundle", "version": 1, "backbone": {...}, "tokenizer": "tokenizer.json",
                       "adapters": {"ner": "adapters/ner.mtpfa", ...}}
    backbone.onnx     int8 (or fp32) ONNX, LoRA slots as optional inputs with empty defaults
    tokenizer.json    the backbone's tokenizer (Hugging Face tokenizers)
    adapters/*.mtpfa  one file per adapter (see adapter_file.py)

``backbone`` holds: file, sha256 (of the ONNX file), weights_sha256 (of the source weights, which
adapters must match), precision, lora_precision (``int8``: slot inputs as in lora_int8.py; absent or
``fp32``: A [r, in] / B [out, r] in fp32), fusions, opset, hidden_size, num_layers, max_length, inputs,
outputs, slots, onnxruntime.
``backbone.onnxruntime`` says how any ONNX Runtime (Python, Java, C#, C++, JS) must open backbone.onnx to
get the runtime's numbers: ``session_config`` (session config entries, e.g. ONNX Runtime's own
SkipLayerNormFusion turned off), ``graph_optimization_level`` (one of ``GRAPH_OPTIMIZATION_LEVELS``;
absent: ``all``, ONNX Runtime's default) and ``log_severity_level`` (3: the slot defaults are graph inputs by
design, which ONNX Runtime warns about once per slot). Bundles written without it get ``ONNXRUNTIME``.
``backbone.sentence_embedding`` is how ``SystemModel.embed`` pools: ``pooling`` (one of ``POOLING_MODES``, as
sentence-transformers defines them), ``normalize``, ``max_length`` and ``source`` (``modules.json`` when read
from a sentence-transformers folder); bundles written without it get ``sentence_embedding_of``'s default.
``read_bundle_manifest`` validates the schema; every path must stay inside the bundle folder.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import BundleError
from . import strict_json
from .adapter_file import NAME, SHA256, SLOT_INPUT

FORMAT = "mtpf-bundle"
# int8 activations: one dynamic scale per tensor (ONNX Runtime's quantizer: it spans the whole batch), one per
# token, or one fixed (calibrated) scale per tensor (export/backends/onnx/activation_scales.py: with the last two a
# row's numbers do not depend on its batch)
ACTIVATION_SCALES = ("per-tensor", "per-token", "static")
BATCH_INDEPENDENT_SCALES = ("per-token", "static")
BACKENDS = ("onnx", "executorch")
VERSION = 1
MANIFEST = "manifest.json"
MAX_LENGTH_RANGE = (3, 1 << 16)
# the backbone graph's interface, whatever the backend (LoRA slot inputs follow: formats/lora_slots.py)
INPUTS = ["input_ids", "attention_mask"]
OUTPUTS = ["last_hidden_state"]
# how backbone.onnx must be opened (docs/formats.md, "Plain ONNX Runtime"): ONNX Runtime's own
# SkipLayerNormFusion off (its CPU kernel is slower here and numerically different from the unfused Add +
# LayerNormalization the runtime is measured with), all of ONNX Runtime's other graph optimisations, and no
# per-slot "initializer in graph inputs" warnings. The Kotlin core reads the same (android_demo, OrtSettings).
ONNXRUNTIME = {"session_config": {"optimization.disable_specified_optimizers": "SkipLayerNormFusion"},
               "graph_optimization_level": "all", "log_severity_level": 3}
# the manifest's names for ONNX Runtime's GraphOptimizationLevel (Java OptLevel, C GraphOptimizationLevel)
GRAPH_OPTIMIZATION_LEVELS = ("disable_all", "basic", "extended", "all")

POOLING_MODES = ("mean", "cls", "max", "lasttoken", "mean_sqrt_len_tokens", "weightedmean")  # sentence-transformers'


def default_sentence_embedding(max_length: int) -> dict:
    """Mean pooling, L2-normalised, ``max_length`` tokens: a backbone that is not a sentence-transformers
    folder, and bundles written before ``sentence_embedding`` was recorded (what ``embed`` always did)."""
    return {"pooling": "mean", "normalize": True, "max_length": max_length, "source": "default"}


def sentence_embedding_of(manifest: dict) -> dict:
    """The bundle's ``backbone.sentence_embedding`` (older bundles: ``default_sentence_embedding``)."""
    bb = manifest["backbone"]
    return bb.get("sentence_embedding") or default_sentence_embedding(bb["max_length"])


def onnxruntime_options(manifest: dict) -> dict:
    """The bundle's ``backbone.onnxruntime`` (``ONNXRUNTIME`` for bundles written before it was recorded)."""
    return manifest["backbone"].get("onnxruntime", ONNXRUNTIME)


def read_bundle_manifest(bundle: str | Path) -> dict:
    """Read and validate a bundle manifest (``bundle`` is the folder or its manifest.json)."""
    bundle = Path(bundle)
    path = bundle / MANIFEST if bundle.is_dir() else bundle
    if not path.is_file():
        raise BundleError(f"bundle {bundle}: no {MANIFEST} (not an mtpf bundle folder)")
    try:
        manifest = strict_json.loads(path.read_bytes())
    except (strict_json.StrictJSONError, OSError) as exc:
        raise BundleError(f"bundle {path}: manifest is not valid JSON ({exc})") from None
    validate_bundle_manifest(manifest, path)
    return manifest


def bundle_path(folder: Path, rel: str, where: str) -> Path:
    """``folder / rel``, refusing paths that leave the folder (absolute, ``..``, links out)."""
    if not isinstance(rel, str) or not rel or Path(rel).is_absolute() or "\0" in rel:
        raise BundleError(f"{where}: {rel!r} must be a relative path inside the bundle")
    root = folder.resolve()
    target = (folder / rel).resolve()
    if not target.is_relative_to(root):
        raise BundleError(f"{where}: {rel!r} points outside the bundle folder")
    return target


def verified_file(folder: Path, rel: str, sha256: str, label: str, verify: bool = True) -> Path:
    """A file the manifest names (``label`` says which, e.g. "backbone file"): inside the bundle, present,
    and (``verify``) with the manifest's sha256."""
    from .hashing import sha256_file

    where = f"bundle {folder}"
    path = bundle_path(folder, rel, f"{where}: {label}")
    if not path.is_file():
        raise BundleError(f"{where}: {label} {rel} is missing")
    if verify:
        actual = sha256_file(path)
        if actual != sha256:
            raise BundleError(f"{where}: {path.name} does not match the sha256 in its manifest (it has {actual}, "
                              f"the manifest says {sha256}: the file is corrupt or was replaced)")
    return path


def validate_bundle_manifest(m: object, path: Path) -> None:
    where = f"bundle {path}"

    def need(obj: dict, key: str, kind: type | tuple, at: str) -> object:
        if key not in obj:
            raise BundleError(f"{where}: field '{at}{key}' is missing")
        value = obj[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise BundleError(f"{where}: field '{at}{key}' must be {' or '.join(k.__name__ for k in kinds)}, "
                              f"not {type(value).__name__}")
        return value

    if not isinstance(m, dict):
        raise BundleError(f"{where}: manifest must be a JSON object, not {type(m).__name__}")
    if m.get("format") != FORMAT:
        raise BundleError(f"{where}: format {m.get('format')!r} is not {FORMAT!r}")
    if m.get("version") != VERSION:
        raise BundleError(f"{where}: format version {m.get('version')!r} is not supported (expected {VERSION})")
    need(m, "tokenizer", str, "")
    backends = m.get("backends", ["onnx"])  # bundles written before ExecuTorch existed are ONNX-only
    if not isinstance(backends, list) or not backends or not set(backends) <= set(BACKENDS):
        raise BundleError(f"{where}: field 'backends' must be a non-empty list of {list(BACKENDS)}")
    bb = need(m, "backbone", dict, "")
    assert isinstance(bb, dict)

    def sha(obj: dict, key: str, at: str) -> None:
        if not SHA256.fullmatch(str(need(obj, key, str, at))):
            raise BundleError(f"{where}: field '{at}{key}' must be 64 lower-case hex digits")

    sha(bb, "weights_sha256", "backbone.")
    if "onnx" in backends:
        need(bb, "file", str, "backbone.")
        sha(bb, "sha256", "backbone.")
        if bb.get("lora_precision", "fp32") not in ("fp32", "int8"):
            raise BundleError(f"{where}: field 'backbone.lora_precision' must be fp32 or int8, "
                              f"not {bb['lora_precision']!r}")
        if bb.get("activation_scales", "per-tensor") not in ACTIVATION_SCALES:
            raise BundleError(f"{where}: field 'backbone.activation_scales' must be one of {', '.join(ACTIVATION_SCALES)}, "
                              f"not {bb['activation_scales']!r}")
        if not isinstance(bb.get("row_adapters", False), bool):
            raise BundleError(f"{where}: field 'backbone.row_adapters' must be true or false")
        if "onnxruntime" in bb:
            ort_options = need(bb, "onnxruntime", dict, "backbone.")
            assert isinstance(ort_options, dict)
            config = need(ort_options, "session_config", dict, "backbone.onnxruntime.")
            assert isinstance(config, dict)
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in config.items()):
                raise BundleError(f"{where}: field 'backbone.onnxruntime.session_config' must map strings to strings")
            if need(ort_options, "log_severity_level", int, "backbone.onnxruntime.") not in range(5):
                raise BundleError(f"{where}: field 'backbone.onnxruntime.log_severity_level' must be 0..4")
            level = ort_options.get("graph_optimization_level", "all")
            if level not in GRAPH_OPTIMIZATION_LEVELS:
                raise BundleError(f"{where}: field 'backbone.onnxruntime.graph_optimization_level' must be one of "
                                  f"{', '.join(GRAPH_OPTIMIZATION_LEVELS)}, not {level!r}")
    if "executorch" in backends:
        et = need(m, "executorch", dict, "")
        assert isinstance(et, dict)
        for key in ("program", "data"):
            need(et, key, str, "executorch.")
            sha(et, f"{key}_sha256", "executorch.")
        if need(et, "max_rank", int, "executorch.") < 1:  # type: ignore[operator]
            raise BundleError(f"{where}: field 'executorch.max_rank' must be positive")
        if "max_batch" in et and need(et, "max_batch", int, "executorch.") < 1:  # type: ignore[operator]
            raise BundleError(f"{where}: field 'executorch.max_batch' must be a positive integer")
    for key in ("hidden_size", "num_layers", "max_length"):
        if need(bb, key, int, "backbone.") <= 0:  # type: ignore[operator]
            raise BundleError(f"{where}: field 'backbone.{key}' must be positive")
    lo, hi = MAX_LENGTH_RANGE
    if not lo <= bb["max_length"] <= hi:
        raise BundleError(f"{where}: field 'backbone.max_length' must be in {lo}..{hi}, not {bb['max_length']}")
    if "sentence_embedding" in bb:
        se = need(bb, "sentence_embedding", dict, "backbone.")
        assert isinstance(se, dict)
        if need(se, "pooling", str, "backbone.sentence_embedding.") not in POOLING_MODES:
            raise BundleError(f"{where}: field 'backbone.sentence_embedding.pooling' must be one of "
                              f"{', '.join(POOLING_MODES)}, not {se['pooling']!r}")
        need(se, "normalize", bool, "backbone.sentence_embedding.")
        if not 3 <= need(se, "max_length", int, "backbone.sentence_embedding.") <= bb["max_length"]:  # type: ignore[operator]
            raise BundleError(f"{where}: field 'backbone.sentence_embedding.max_length' must be in 3..backbone.max_length "
                              f"({bb['max_length']}), not {se['max_length']}")
    slots = need(bb, "slots", list, "backbone.")
    assert isinstance(slots, list)
    for i, s in enumerate(slots):
        at = f"backbone.slots[{i}]."
        if not isinstance(s, dict):
            raise BundleError(f"{where}: field 'backbone.slots[{i}]' must be an object")
        for key in ("layer", "in", "out"):
            if need(s, key, int, at) < 0:  # type: ignore[operator]
                raise BundleError(f"{where}: field '{at}{key}' must not be negative")
        need(s, "family", str, at)
        for key in ("a", "b"):
            if not SLOT_INPUT.fullmatch(str(need(s, key, str, at))):
                raise BundleError(f"{where}: field '{at}{key}' is not a LoRA slot input name")
    if "layouts" in bb:
        layouts = need(bb, "layouts", dict, "backbone.")
        assert isinstance(layouts, dict)
        slot_inputs = {s["a"] for s in slots}
        for name, layout in layouts.items():
            at = f"backbone.layouts.{name}."
            if not NAME.fullmatch(str(name)) or not isinstance(layout, dict):
                raise BundleError(f"{where}: field 'backbone.layouts' entry {name!r} must be a name -> object")
            need(layout, "file", str, at)
            sha(layout, "sha256", at)
            kept = need(layout, "slots", list, at)
            assert isinstance(kept, list)
            unknown = [k for k in kept if k not in slot_inputs]
            if unknown:
                raise BundleError(f"{where}: field '{at}slots' names {unknown[0]!r}, which is not in backbone.slots")
    adapters = m.get("adapters", {})
    if not isinstance(adapters, dict):
        raise BundleError(f"{where}: field 'adapters' must be an object of name -> relative path")
    for name, rel in adapters.items():
        if not NAME.fullmatch(name) or not isinstance(rel, str):
            raise BundleError(f"{where}: field 'adapters' entry {name!r}: names are letters, digits, '-', '_' and "
                              "paths are strings")


def write_bundle_manifest(folder: Path, manifest: dict) -> None:
    (folder / MANIFEST).write_text(json.dumps(dict(manifest, format=FORMAT, version=VERSION), indent=2) + "\n")
