"""The swappable adapter FILE (``*.mtpfa``): what an app ships and the runtime loads. Untrusted input.

A ZIP archive, every member STORED (no compression), so a member is one byte range that any
platform can map or read (Python ``zipfile``, ``java.util.zip``), in one canonical layout
(``adapter_zip.py``: local headers and central directory agree, nothing else in the file)::

    manifest.json      format, version, name, task, labels, head kind, pooling, max length, LoRA rank /
                       alpha / slots, sha256 + size of each member, sha256 of the backbone weights,
                       lineage, card (version, description, licence, ...: ``card.py``)
    lora.safetensors   LoRA A [r, in] / B [out, r] float32, keyed by the backbone's slot input names
                       (``layer.3.query.lora_A``), scaling folded into B. Present iff ``lora`` is not null.
    head.safetensors   ``weight`` [C, W], ``bias`` [C] float32 (W: the task's head width, formats/tasks.py). Present iff the task has one.

``read_adapter_file`` validates everything it can without the backbone (the canonical ZIP layout,
the manifest schema, member hashes, tensor names / dtypes / shapes / finiteness, A/B pairing);
``AdapterFile.check_fits`` validates it against a bundle's backbone.
Every failure is an ``AdapterError`` naming the file and the field. See docs/formats.md. No pickle.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load as load_safetensors

from ..errors import AdapterError
from . import strict_json
from .adapter_zip import canonical_members
from .card import validate_card
from .reading import read_limited
from .tasks import HEAD_KINDS, POOLER_HEAD, POOLER_TENSORS, TASK_NAMES, check_labels, task_spec

FORMAT = "mtpf-adapter"
VERSION = 2
SUFFIX = ".mtpfa"
MANIFEST = "manifest.json"
LORA = "lora.safetensors"
HEAD = "head.safetensors"
MEMBERS = (MANIFEST, LORA, HEAD)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
SHA256 = re.compile(r"[0-9a-f]{64}")
# how pack knew which backbone an adapter is for (export/pack.py backbone_binding)
BACKBONE_BINDINGS = ("trained-on", "base-model-checked", "assumed")
SLOT_INPUT = re.compile(r"layer\.(\d+)\.([a-z_]+)\.lora_([AB])")
MAX_FILE_BYTES = 512 << 20  # an adapter is a few MB; anything near this is not one
MAX_MANIFEST_BYTES = 1 << 20
MAX_LABELS = 10_000
# trained LoRA factors (scaling folded into B) and heads are O(1)-O(100); a value beyond this is not a
# trained adapter. Finite values below it can still overflow a call: the runtime probes each adapter at load.
MAX_ABS_VALUE = 1e6
MAX_LENGTH_RANGE = (3, 1 << 16)


def check_adapter_name(name: object, where: str = "adapter name") -> str:
    """Adapter names are 1-64 letters, digits, '-' or '_' (they become file names)."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise AdapterError(f"{where} {name!r} must be 1-64 letters, digits, '-' or '_' (starting with a letter or digit)")
    return name


@dataclass
class AdapterFile:
    """A validated adapter file in memory."""

    path: Path
    manifest: dict
    lora: dict[str, np.ndarray]  # slot input name -> float32 array (empty: no LoRA)
    head: dict[str, np.ndarray] | None
    digest: str = ""  # sha256 of the manifest, which holds every member's sha256: the adapter's identity
    signature: Any = None  # the verified ``signature.Signature`` when a trust policy checked it

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def task(self) -> str:
        return self.manifest["task"]

    @property
    def labels(self) -> list[str]:
        return self.manifest["labels"]

    @property
    def max_length(self) -> int:
        return self.manifest["max_length"]

    @property
    def backbone_sha256(self) -> str:
        return self.manifest["backbone"]["weights_sha256"]

    @property
    def lineage(self) -> dict:
        """Tool, backbone binding and parent adapter digest (older files: what is known)."""
        return self.manifest.get("lineage") or {"tool": self.manifest.get("created_by", "unknown"),
                                                "backbone_binding": "unrecorded", "parent_sha256": None}

    def inert_parts(self) -> list[str]:
        """What in this adapter changes nothing (loading it is allowed; ``inspect`` warns, ``strict`` refuses)."""
        found = []
        if self.lora:
            slots = sorted({k.rsplit(".", 1)[0] for k in self.lora})
            dead = [s for s in slots if not self.lora[f"{s}.lora_A"].any() or not self.lora[f"{s}.lora_B"].any()]
            if len(dead) == len(slots):
                found.append("its LoRA is zero in every slot (B = 0 or A = 0: an untrained PEFT adapter?): the "
                             "backbone's outputs are unchanged")
            else:
                tiny = max(float(np.abs(self.lora[f"{s}.lora_B"] @ self.lora[f"{s}.lora_A"]).max()) for s in slots)
                if tiny < 1e-12:
                    found.append(f"its LoRA changes no weight by more than {tiny:.1e}")
        if self.head is not None and len(self.labels) > 1:
            w, b = self.head["weight"], self.head["bias"]
            if np.all(w == w[:1]) and np.all(b == b[:1]):
                found.append("every label's head row is the same: every input gets the same scores")
        return found

    def check_fits(self, backbone: dict) -> None:
        """Refuse an adapter that does not fit a bundle's backbone: other weights, a slot it lacks, a
        LoRA dimension or a head width that differs."""
        where = f"adapter {self.path}"
        if self.backbone_sha256 != backbone["weights_sha256"]:
            raise AdapterError(f"{where} was made for backbone {self.backbone_sha256}, "
                               f"but this system runs backbone {backbone['weights_sha256']}")
        dims = {}
        for s in backbone["slots"]:
            dims[s["a"]] = (None, s["in"])
            dims[s["b"]] = (s["out"], None)
        for name, value in self.lora.items():
            if name not in dims:
                raise AdapterError(f"{where}: {LORA}: tensor {name!r} is not a LoRA slot of this backbone")
            want = dims[name]
            if any(w is not None and w != d for w, d in zip(want, value.shape)):
                raise AdapterError(f"{where}: {LORA}: {name} has shape {list(value.shape)}, the backbone's slot is "
                                   f"{['r' if w is None else w for w in want]}")
        width = task_spec(self.task).head_width(backbone["hidden_size"])
        if self.head is not None and self.head["weight"].shape[1] != width:
            raise AdapterError(f"{where}: {HEAD}: weight has width {self.head['weight'].shape[1]}; a {self.task} head "
                               f"on this backbone (hidden size {backbone['hidden_size']}) takes {width}")


def write_adapter_file(out: Path, manifest: dict, lora: dict[str, np.ndarray], head: dict[str, np.ndarray] | None) -> dict:
    """Write the container (caller handles atomicity); member hashes are added to the manifest, which is returned."""
    from safetensors.numpy import save

    blobs: dict[str, bytes] = {}
    if lora:
        blobs[LORA] = save({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sorted(lora.items())})
    if head is not None:
        blobs[HEAD] = save({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in head.items()})
    manifest = dict(manifest, format=FORMAT, version=VERSION,
                    members={n: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)} for n, b in blobs.items()})
    # a fixed timestamp and mode: the same adapter packs to the same bytes (and so the same sha256 and signature)
    members = [(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode()), *blobs.items()]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return manifest


def read_adapter_bytes(path: str | Path) -> bytes:
    """An adapter file's bytes, read once (what is verified is what is then parsed)."""
    path = Path(path)
    return read_limited(path, f"adapter {path}", MAX_FILE_BYTES, "an adapter", AdapterError)


def read_adapter_file(path: str | Path, data: bytes | None = None) -> AdapterFile:
    """Open and validate an adapter file (everything but the fit to a backbone: ``check_fits``);
    ``data``: its bytes, when the caller has read them already."""
    path = Path(path)
    where = f"adapter {path}"
    archive = read_adapter_bytes(path) if data is None else data
    if len(archive) > MAX_FILE_BYTES:
        raise AdapterError(f"{where}: {len(archive)} bytes is larger than an adapter may be ({MAX_FILE_BYTES})")
    found = canonical_members(archive, where, MAX_MANIFEST_BYTES)  # the one reading every reader shares
    raw_manifest = found[MANIFEST]
    manifest = _manifest(where, raw_manifest)
    tensors = {n: found[n] for n in (LORA, HEAD) if n in found}
    expected = {HEAD} if task_spec(manifest["task"]).has_head else set()
    expected |= {LORA} if manifest["lora"] is not None else set()
    if set(tensors) != expected:
        raise AdapterError(f"{where}: a {manifest['task']} adapter with lora={'set' if manifest['lora'] else 'null'} "
                           f"must hold {sorted(expected) or 'no tensor member'}, it holds {sorted(tensors) or 'none'}")
    if set(manifest["members"]) != expected:
        raise AdapterError(f"{where}: manifest 'members' lists {sorted(manifest['members'])}, the file holds {sorted(tensors)}")
    for name, blob in tensors.items():
        info = manifest["members"][name]
        if len(blob) != info["bytes"] or hashlib.sha256(blob).hexdigest() != info["sha256"]:
            raise AdapterError(f"{where}: member {name} does not match its size / sha256 in the manifest (file is corrupt)")
    lora = _lora(where, tensors[LORA], manifest) if LORA in tensors else {}
    if lora and sum(v.size for v in lora.values()) != manifest["lora"]["parameters"]:
        raise AdapterError(f"{where}: field 'lora.parameters' is {manifest['lora']['parameters']}, the LoRA holds "
                           f"{sum(v.size for v in lora.values())}")
    head = _head(where, tensors[HEAD], manifest) if HEAD in tensors else None
    return AdapterFile(path, manifest, lora, head, hashlib.sha256(raw_manifest).hexdigest())


# ----------------------------------------------------------------------------- manifest schema
def _manifest(where: str, raw: bytes) -> dict:
    try:
        m = strict_json.loads(raw)
    except strict_json.StrictJSONError as exc:
        raise AdapterError(f"{where}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(m, dict):
        raise AdapterError(f"{where}: {MANIFEST} must be a JSON object, not {type(m).__name__}")
    if m.get("format") != FORMAT:
        raise AdapterError(f"{where}: format {m.get('format')!r} is not {FORMAT!r}")
    if type(m.get("version")) is not int or m.get("version") != VERSION:
        raise AdapterError(f"{where}: format version {m.get('version')!r} is not supported (this mtpf-deploy reads "
                           f"version {VERSION}); re-pack it with `mtpf-deploy pack`")
    field = _Fields(where, m)
    field.only({"format", "version", "name", "task", "labels", "head", "pooling", "normalize", "max_length",
                "task_primary", "lora", "backbone", "members", "created_by", "lineage", "card"})
    check_adapter_name(field.get("name", str), f"{where}: field 'name':")
    task = field.choice("task", TASK_NAMES)
    labels = field.get("labels", list)
    if not all(isinstance(x, str) and x for x in labels):
        raise AdapterError(f"{where}: field 'labels' must be a list of non-empty strings")
    shown = [x for x in labels if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in x)]
    if shown:  # bidi overrides, zero-width and control characters would reach whoever prints a result
        raise AdapterError(f"{where}: field 'labels': {ascii(shown[0])} holds a control or formatting character")
    if len(set(labels)) != len(labels) or len(labels) > MAX_LABELS:
        raise AdapterError(f"{where}: field 'labels' has duplicates or more than {MAX_LABELS} entries")
    check_labels(task, labels, where)
    head_kind = field.choice("head", HEAD_KINDS + (None,))
    pooling = field.choice("pooling", ("mean", "cls", None))
    normalize = field.get("normalize", bool)
    if (head_kind == POOLER_HEAD) != (pooling == "cls") or (head_kind == POOLER_HEAD and (task != "tc" or normalize)):
        raise AdapterError(f"{where}: field 'head' {head_kind!r} with pooling {pooling!r}: a {POOLER_HEAD!r} head is a tc "
                           "head on the [CLS] vector (pooling 'cls', normalize false), and pooling 'cls' needs that head")
    field.get("task_primary", bool)
    lo, hi = MAX_LENGTH_RANGE
    if not lo <= field.get("max_length", int) <= hi:
        raise AdapterError(f"{where}: field 'max_length' must be in {lo}..{hi}, not {m['max_length']}")
    lora = m.get("lora", "missing")
    if lora == "missing":
        raise AdapterError(f"{where}: field 'lora' is missing (null for a head-only adapter)")
    if lora is not None:
        sub = _Fields(f"{where}: field 'lora'", lora if isinstance(lora, dict) else {"": lora})
        sub.only({"rank", "alpha", "scaling_folded_into_B", "slots", "parameters"})
        if sub.get("rank", int) < 1:
            raise AdapterError(f"{where}: field 'lora.rank' must be positive")
        sub.get("alpha", (int, float))
        if sub.get("scaling_folded_into_B", bool) is not True:
            raise AdapterError(f"{where}: field 'lora.scaling_folded_into_B' must be true")
        slots = sub.get("slots", list)
        if not slots or not all(isinstance(s, str) and SLOT_INPUT.fullmatch(s) for s in slots):
            raise AdapterError(f"{where}: field 'lora.slots' must list slot inputs like 'layer.0.query.lora_A'")
        if sub.get("parameters", int) < 0:
            raise AdapterError(f"{where}: field 'lora.parameters' must be >= 0")
    elif task == "lora":
        raise AdapterError(f"{where}: field 'lora' is null, but a lora adapter is nothing else")
    backbone = _Fields(f"{where}: field 'backbone'", field.get("backbone", dict))
    if not SHA256.fullmatch(str(backbone.get("weights_sha256", str))):
        raise AdapterError(f"{where}: field 'backbone.weights_sha256' must be 64 lower-case hex digits")
    members = field.get("members", dict)
    for name, info in members.items():
        if name not in (LORA, HEAD):
            raise AdapterError(f"{where}: field 'members' names {name!r}, which an adapter cannot hold")
        sub = _Fields(f"{where}: field 'members.{name}'", info)
        if not SHA256.fullmatch(sub.get("sha256", str)) or sub.get("bytes", int) < 0:
            raise AdapterError(f"{where}: field 'members.{name}' needs a sha256 (64 hex digits) and a byte count")
    if "created_by" in m:  # files packed before lineage existed
        field.get("created_by", str)
    if "lineage" in m:
        sub = _Fields(f"{where}: field 'lineage'", field.get("lineage", dict))
        sub.only({"tool", "backbone_binding", "parent_sha256", "migration"})
        sub.get("tool", str)
        sub.choice("backbone_binding", BACKBONE_BINDINGS)
        parent = sub.get("parent_sha256", (str, type(None)))
        if parent is not None and not SHA256.fullmatch(parent):
            raise AdapterError(f"{where}: field 'lineage.parent_sha256' must be null or 64 lower-case hex digits")
        if "migration" in field.get("lineage", dict):  # made by `migrate` from the parent on another backbone
            if parent is None:
                raise AdapterError(f"{where}: field 'lineage.migration' needs 'lineage.parent_sha256' (the adapter it "
                                   "was migrated from)")
            mig = _Fields(f"{where}: field 'lineage.migration'", field.get("lineage", dict)["migration"])
            mig.only({"old_backbone_sha256", "texts_sha256", "texts", "heldout"})
            for name in ("old_backbone_sha256", "texts_sha256"):
                if not SHA256.fullmatch(mig.get(name, str)):
                    raise AdapterError(f"{where}: field 'lineage.migration.{name}' must be 64 lower-case hex digits")
            for name in ("texts", "heldout"):
                value = mig.get(name, int)
                if isinstance(value, bool) or value < 0:
                    raise AdapterError(f"{where}: field 'lineage.migration.{name}' must be a non-negative integer")
            if m.get("backbone", {}).get("weights_sha256") == mig.get("old_backbone_sha256", str):
                raise AdapterError(f"{where}: field 'lineage.migration.old_backbone_sha256' is the adapter's own backbone")
    if "card" in m:
        validate_card(m["card"], where)
    return m


class _Fields:
    """Typed access to a JSON object whose errors name the file and the field."""

    def __init__(self, where: str, obj: object):
        if not isinstance(obj, dict):
            raise AdapterError(f"{where}: must be a JSON object, not {type(obj).__name__}")
        self.where, self.obj = where, obj

    def get(self, key: str, kind: type | tuple[type, ...]) -> Any:
        if key not in self.obj:
            raise AdapterError(f"{self.where}: field {key!r} is missing")
        value = self.obj[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise AdapterError(f"{self.where}: field {key!r} must be {names}, not {type(value).__name__} ({value!r:.60})")
        return value

    def choice(self, key: str, allowed: tuple) -> Any:
        if key not in self.obj:
            raise AdapterError(f"{self.where}: field {key!r} is missing")
        if self.obj[key] not in allowed or isinstance(self.obj[key], bool):
            raise AdapterError(f"{self.where}: field {key!r} must be one of {list(allowed)}, not {self.obj[key]!r:.60}")
        return self.obj[key]

    def only(self, keys: set[str]) -> None:
        unknown = sorted(set(self.obj) - keys)
        if unknown:
            raise AdapterError(f"{self.where}: unknown field(s) {unknown}")


# ----------------------------------------------------------------------------- tensors
def _tensors(where: str, member: str, blob: bytes) -> dict[str, np.ndarray]:
    try:
        tensors = load_safetensors(blob)
    except Exception as exc:  # safetensors raises its own error types on bad bytes
        raise AdapterError(f"{where}: {member} is not valid safetensors ({str(exc)[:200]})") from None
    for name, value in tensors.items():
        if value.dtype != np.float32:
            raise AdapterError(f"{where}: {member}: tensor {name!r} is {value.dtype}, must be float32")
        if value.ndim not in (1, 2) or 0 in value.shape:
            raise AdapterError(f"{where}: {member}: tensor {name!r} has shape {list(value.shape)}")
        if not np.isfinite(value).all():
            raise AdapterError(f"{where}: {member}: tensor {name!r} holds NaN or infinite values")
        peak = float(np.abs(value).max())
        if peak > MAX_ABS_VALUE:
            raise AdapterError(f"{where}: {member}: tensor {name!r} holds a value of magnitude {peak:.3g}; adapter values "
                               f"must be at most {MAX_ABS_VALUE:.0e} (no trained adapter comes near it)")
    return tensors


def _lora(where: str, blob: bytes, manifest: dict) -> dict[str, np.ndarray]:
    tensors = _tensors(where, LORA, blob)
    listed = manifest["lora"]["slots"]
    if sorted(tensors) != sorted(listed) or len(set(listed)) != len(listed):
        raise AdapterError(f"{where}: {LORA} holds tensors {sorted(tensors)[:4]}…, the manifest's 'lora.slots' lists "
                           f"{sorted(listed)[:4]}…; they must be the same")
    rank = manifest["lora"]["rank"]
    for name, value in tensors.items():
        m = SLOT_INPUT.fullmatch(name)
        assert m is not None  # the manifest check above allows slot names only
        twin = name[:-1] + ("B" if m.group(3) == "A" else "A")
        if twin not in tensors:
            raise AdapterError(f"{where}: {LORA}: {name} has no matching {twin}")
        r = value.shape[0] if m.group(3) == "A" else value.shape[-1]
        if value.ndim != 2 or r != rank:
            raise AdapterError(f"{where}: {LORA}: {name} has shape {list(value.shape)}; rank {rank} (lora.rank) "
                               f"needs A [{rank}, in] and B [out, {rank}]")
    return tensors


def _head(where: str, blob: bytes, manifest: dict) -> dict[str, np.ndarray]:
    head = _tensors(where, HEAD, blob)
    pooler = manifest["head"] == POOLER_HEAD
    expected = {"weight", "bias", *(POOLER_TENSORS if pooler else ())}
    if set(head) != expected:
        raise AdapterError(f"{where}: {HEAD} must hold exactly {', '.join(map(repr, sorted(expected)))}, it holds "
                           f"{sorted(head)}")
    w, b = head["weight"], head["bias"]
    if pooler:
        pw, pb = head["pooler_weight"], head["pooler_bias"]
        if pw.ndim != 2 or pw.shape[0] != pw.shape[1] or pb.shape != (pw.shape[0],) or w.ndim != 2 or w.shape[1] != pw.shape[0]:
            raise AdapterError(f"{where}: {HEAD}: pooler_weight {list(pw.shape)} and pooler_bias {list(pb.shape)} must be "
                               "[hidden, hidden] and [hidden], as wide as the weight")
    n = len(manifest["labels"])
    if w.ndim != 2 or w.shape[0] != n or b.shape != (n,):
        raise AdapterError(f"{where}: {HEAD}: weight {list(w.shape)} and bias {list(b.shape)} must be [{n}, hidden] "
                           f"and [{n}] for the {n} labels")
    return head
