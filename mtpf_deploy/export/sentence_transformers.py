"""What a sentence-transformers folder says about its sentence embedding (pooling, normalisation, max
length), read from its config files so that ``export`` carries it into the bundle (``backbone.
sentence_embedding``) and ``SystemModel.embed`` gives ``SentenceTransformer.encode``'s vectors.

Both layouts are read: sentence-transformers < 6 (``pooling_mode_*`` flags in ``1_Pooling/config.json``,
``max_seq_length`` in ``sentence_bert_config.json``) and 6.x (``pooling_mode``, the tokenizer's
``model_max_length``). What the bundle cannot reproduce (a Dense projection, several pooling modes
concatenated, a lower-casing step the tokenizer lacks, any other module) is refused by name. Torch-free."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import MtpfError
from ..formats.bundle import POOLING_MODES

MODULES = "modules.json"
LEGACY_POOLING_FLAGS = {  # sentence-transformers < 6: one boolean per mode
    "pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max", "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
NO_TRUNCATION = 1 << 30  # transformers' "no limit" model_max_length is ~1e30


def _json(path: Path) -> dict | list:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MtpfError(f"sentence-transformers folder: {path} is not readable JSON ({exc})") from None


def _kind(module: dict) -> str:
    """``sentence_transformers.models.Pooling`` and 6.x's ``...modules.pooling.Pooling`` -> ``Pooling``."""
    return str(module.get("type", "")).rsplit(".", 1)[-1]


def transformer_folder(folder: Path) -> Path:
    """The Hugging Face model folder of a sentence-transformers folder (its Transformer module's path;
    the folder itself when it has no modules.json)."""
    if not (folder / MODULES).is_file():
        return folder
    modules = _json(folder / MODULES)
    first = modules[0] if isinstance(modules, list) and modules and isinstance(modules[0], dict) else {}
    return folder / str(first.get("path", "")) if _kind(first) == "Transformer" else folder


def _pooling_mode(config: dict, where: Path) -> str:
    mode = config.get("pooling_mode")
    if mode is None:
        modes = [m for flag, m in LEGACY_POOLING_FLAGS.items() if config.get(flag)]
        mode = modes[0] if len(modes) == 1 else modes
    if isinstance(mode, list) and len(mode) == 1:
        mode = mode[0]
    if isinstance(mode, list):
        raise MtpfError(f"sentence-transformers folder: {where} concatenates pooling modes {mode}; the bundle pools "
                        "one way (one of " + ", ".join(POOLING_MODES) + ")")
    if mode not in POOLING_MODES:
        raise MtpfError(f"sentence-transformers folder: {where}: pooling mode {mode!r} is not one of "
                        f"{', '.join(POOLING_MODES)}")
    return mode


def _max_seq_length(folder: Path, model: Path) -> int | None:
    """sentence_bert_config.json's ``max_seq_length`` (< 6), else the tokenizer's ``model_max_length`` (6.x)."""
    for path, key in ((folder / "sentence_bert_config.json", "max_seq_length"),
                      (model / "sentence_bert_config.json", "max_seq_length"),
                      (model / "tokenizer_config.json", "model_max_length")):
        if path.is_file():
            config = _json(path)
            value = config.get(key) if isinstance(config, dict) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < NO_TRUNCATION:
                return int(value)
    return None


def _lowercases(model: Path) -> bool:
    """Whether tokenizer.json's normaliser lower-cases (then ST's ``do_lower_case`` changes nothing)."""
    normalizer = json.dumps(_json(model / "tokenizer.json").get("normalizer") or {})  # type: ignore[union-attr]
    return '"lowercase": true' in normalizer or '"Lowercase"' in normalizer


def read_sentence_embedding(folder: Path) -> dict | None:
    """``{"pooling", "normalize", "max_length", "source"}`` of a sentence-transformers folder, or None
    when ``folder`` has no modules.json (a plain Hugging Face folder)."""
    if not (folder / MODULES).is_file():
        return None
    modules = _json(folder / MODULES)
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise MtpfError(f"sentence-transformers folder: {folder / MODULES} must be a list of modules")
    kinds = [_kind(m) for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        unsupported = [f"{m.get('type')} (module {i})" for i, (m, k) in enumerate(zip(modules, kinds))
                       if k not in ("Transformer", "Pooling", "Normalize")]
        what = (f"module {', '.join(unsupported)} cannot be carried into a bundle (only Transformer -> Pooling "
                "[-> Normalize])" if unsupported else
                f"modules {kinds} are not Transformer -> Pooling [-> Normalize]")
        raise MtpfError(f"sentence-transformers folder {folder}: {what}; its embeddings would differ from "
                        "SentenceTransformer.encode")
    model = folder / str(modules[0].get("path", ""))
    for path in (folder / "sentence_bert_config.json", model / "sentence_bert_config.json"):
        config = _json(path) if path.is_file() else {}
        if isinstance(config, dict) and config.get("do_lower_case") and not _lowercases(model):
            raise MtpfError(f"sentence-transformers folder: {path} sets do_lower_case, which its tokenizer.json does "
                            "not do; the bundle's tokenizer would see other text")
    pooling_path = folder / str(modules[1].get("path", "")) / "config.json"
    pooling = _json(pooling_path) if pooling_path.is_file() else {}
    if not isinstance(pooling, dict):
        raise MtpfError(f"sentence-transformers folder: {pooling_path} must be a JSON object")
    return {"pooling": _pooling_mode(pooling, pooling_path), "normalize": kinds[-1] == "Normalize",
            "max_length": _max_seq_length(folder, model), "source": MODULES}
