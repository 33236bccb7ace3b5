"""The adapter card: what a person needs to know about an adapter (version, description, licence, author,
base backbone, training data, metrics, the PEFT README it came with), kept in the ``.mtpfa`` manifest's
``card`` field — like a Hub model card or Apple's ``.fmadapter`` metadata.

Filled (later wins): PEFT's ``README.md`` front matter and text, the adapter folder's ``metrics.json`` and
``task.json`` card (written by ``adapt``), a card file (``--card FILE``, JSON or TOML), then flags. Cards
come from untrusted files and ``inspect`` prints them: every field is bounded, and no control or
formatting character (other than newline and tab in the long texts) is accepted. Torch-free."""
from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..errors import AdapterError, MtpfError
from ..settings import Settings, setting


@dataclass
class AdapterCard:
    """The card's fields; each is optional. ``help`` says what goes in it, ``max`` bounds it (characters)."""

    version: str | None = field(default=None, metadata={"help": "the adapter's version, e.g. 1.2.0", "max": 64})
    description: str | None = field(default=None, metadata={"help": "what the adapter does", "max": 4096,
                                                            "multiline": True})
    license: str | None = field(default=None, metadata={"help": "licence of the adapter, e.g. apache-2.0", "max": 128})
    author: str | None = field(default=None, metadata={"help": "who made it", "max": 256})
    base_backbone: str | None = field(default=None, metadata={"help": "the backbone it was trained on, by name",
                                                              "max": 256})
    training_data: str | None = field(default=None, metadata={"help": "what it was trained on", "max": 4096,
                                                              "multiline": True})
    metrics: dict[str, float] | None = field(default=None, metadata={"help": "name -> value (from metrics.json)"})
    readme: str | None = field(default=None, metadata={"help": "the model card text it came with (PEFT README.md)",
                                                       "max": 65536, "multiline": True})


TEXT_FIELDS = {f.name: f.metadata for f in fields(AdapterCard) if f.name != "metrics"}
CARD_FIELDS = tuple(f.name for f in fields(AdapterCard))
MAX_METRICS = 64
MAX_METRIC_NAME = 64
NOT_INFORMATIVE = "[More Information Needed]"  # PEFT's README template placeholder


def _check_text(value: object, name: str, where: str, multiline: bool, limit: int) -> str:
    if not isinstance(value, str):
        raise AdapterError(f"{where}: field 'card.{name}' must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise AdapterError(f"{where}: field 'card.{name}' has {len(value)} characters; at most {limit}")
    allowed = "\n\t" if multiline else ""
    bad = next((c for c in value if c not in allowed and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs")), None)
    if bad is not None:
        raise AdapterError(f"{where}: field 'card.{name}' holds the control or formatting character {ascii(bad)}")
    return value


def validate_card(card: object, where: str) -> dict:
    """The manifest's ``card`` checked: known fields only, bounded texts, finite metrics."""
    if not isinstance(card, dict):
        raise AdapterError(f"{where}: field 'card' must be an object, not {type(card).__name__}")
    unknown = sorted(set(card) - set(CARD_FIELDS))
    if unknown:
        raise AdapterError(f"{where}: field 'card' has unknown entries {unknown} (known: {', '.join(CARD_FIELDS)})")
    for name, meta in TEXT_FIELDS.items():
        if name in card:
            _check_text(card[name], name, where, meta.get("multiline", False), meta["max"])
    if "metrics" in card:
        metrics = card["metrics"]
        if not isinstance(metrics, dict) or len(metrics) > MAX_METRICS:
            raise AdapterError(f"{where}: field 'card.metrics' must be an object of at most {MAX_METRICS} name -> number")
        for key, value in metrics.items():
            _check_text(key, "metrics", where, False, MAX_METRIC_NAME)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise AdapterError(f"{where}: field 'card.metrics.{key}' must be a finite number, not {value!r}")
    return card


def metrics_summary(metrics: object, limit: int = MAX_METRICS) -> dict[str, float]:
    """The numbers of a ``metrics.json`` (``adapt``'s: ``{"test": {"f1": ...}, "train_sentences": ...}``) as
    flat ``test.f1`` entries, two levels deep; loss curves and per-type tables are left out."""
    out: dict[str, float] = {}

    def walk(obj: object, prefix: str, depth: int) -> None:
        if not isinstance(obj, dict):
            return
        for key, value in obj.items():
            name = f"{prefix}{key}"
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                if len(out) < limit and len(name) <= MAX_METRIC_NAME:
                    out[name] = value
            elif depth < 2 and key != "per_type":
                walk(value, f"{name}.", depth + 1)

    walk(metrics, "", 1)
    return out


def card_from_readme(path: Path) -> dict:
    """What a PEFT / Hub ``README.md`` model card says: licence, base model, datasets (front matter) and its
    text, via huggingface_hub's own ModelCard parser; PEFT's unfilled template says nothing."""
    try:
        from huggingface_hub import ModelCard  # installed with tokenizers
        parsed = ModelCard.load(path)
    except Exception as exc:  # huggingface_hub raises its own errors for malformed YAML front matter
        raise MtpfError(f"{path}: not a readable model card ({exc})") from None
    data = parsed.data.to_dict() if parsed.data else {}
    card: dict = {}
    if isinstance(data.get("license"), str):
        card["license"] = data["license"]
    base = data.get("base_model")
    if isinstance(base, str):
        card["base_backbone"] = base
    datasets = data.get("datasets")
    if isinstance(datasets, list) and all(isinstance(d, str) for d in datasets) and datasets:
        card["training_data"] = ", ".join(datasets)
    text = parsed.text.replace("\r\n", "\n").strip()
    if text and text.count(NOT_INFORMATIVE) < 10:  # PEFT writes its template (~40 placeholders) by default
        limit = TEXT_FIELDS["readme"]["max"]
        card["readme"] = text if len(text) <= limit else text[: limit - 40] + "\n\n[... cut: the card keeps 64 KiB]"
    return card


def read_card_file(path: str | Path) -> dict:
    """A card file: JSON (``.json``) or TOML, with the fields of ``AdapterCard``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MtpfError(f"--card {path}: cannot read it ({exc.strerror})") from None
    try:
        if path.suffix == ".json":
            card = json.loads(raw)
        else:
            import tomllib

            card = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MtpfError(f"--card {path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'} ({exc})") from None
    return validate_card(card, f"--card {path}")


def merge_cards(*cards: dict | None) -> dict:
    """Later cards win field by field (metrics merge by name); empty values are dropped."""
    out: dict = {}
    for card in cards:
        for key, value in (card or {}).items():
            if value is None or value == "" or value == {}:
                continue
            out[key] = dict(list(dict(out.get(key, {}), **value).items())[:MAX_METRICS]) if key == "metrics" else value
    return out



@dataclass
class CardSettings(Settings):
    """The card flags of ``pack`` and ``adapt`` (a mixin of their settings)."""

    card: str | None = setting(None, "adapter card file (JSON or TOML with the card's fields: version, description, "
                                     "license, author, base_backbone, training_data, metrics; docs/formats.md)", late=True,
                               path="file")
    card_version: str | None = setting(None, "card: the adapter's version (e.g. 1.2.0)", late=True)
    description: str | None = setting(None, "card: what the adapter does", late=True)
    license: str | None = setting(None, "card: the adapter's licence (e.g. apache-2.0)", late=True)
    author: str | None = setting(None, "card: who made it", late=True)
    training_data: str | None = setting(None, "card: what it was trained on", late=True)

    def card_fields(self) -> dict:
        """The card: the ``--card`` file's fields, the flags given over them."""
        flags = {"version": self.card_version, "description": self.description, "license": self.license,
                 "author": self.author, "training_data": self.training_data}
        return merge_cards(read_card_file(self.card) if self.card else None, flags)
