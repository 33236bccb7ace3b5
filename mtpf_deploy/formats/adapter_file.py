"""The swappable adapter FILE (``*.mtpfa``): what an app ships and the runtime loads.

A ZIP archive with every member STORED (no compression), so a member can be memory-mapped or read
as one byte range by any platform (Python ``zipfile``, ``java.util.zip``)::

    manifest.json        format, version, task, labels, head kind, pooling, max length, LoRA rank /
                         alpha / slots, sha256 of each member, sha256 of the backbone weights
    lora.onnx_adapter    LoRA A/B in ONNX Runtime's adapter format, keyed by the backbone's slot input
                         names; scaling already folded into B. Load it with ``onnxruntime.LoraAdapter``
                         (or ``OrtLoraAdapter`` / ``CreateLoraAdapterFromArray`` on Android). Absent for a
                         head-only adapter.
    head.safetensors     ``weight`` [C, H], ``bias`` [C]. Absent for an embedding-only adapter.

No pickle. See docs/formats.md.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load as load_safetensors

from ..errors import MtpfError

FORMAT = "mtpf-adapter"
VERSION = 1
SUFFIX = ".mtpfa"
MANIFEST = "manifest.json"
LORA = "lora.onnx_adapter"
HEAD = "head.safetensors"


@dataclass
class AdapterFile:
    """A validated adapter file in memory."""

    path: Path
    manifest: dict
    lora_bytes: bytes | None
    head: dict[str, np.ndarray] | None

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def task(self) -> str:
        return self.manifest["task"]

    @property
    def labels(self) -> list[str]:
        return self.manifest.get("labels", [])

    @property
    def backbone_sha256(self) -> str:
        return self.manifest["backbone"]["weights_sha256"]


def write_adapter_file(out: Path, manifest: dict, lora_bytes: bytes | None, head_bytes: bytes | None) -> None:
    """Write the container (caller handles atomicity); member hashes are added to the manifest."""
    manifest = dict(manifest, format=FORMAT, version=VERSION, members={})
    members = {LORA: lora_bytes, HEAD: head_bytes}
    for name, data in members.items():
        if data is not None:
            manifest["members"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
        for name, data in members.items():
            if data is not None:
                z.writestr(name, data)


def read_adapter_file(path: str | Path) -> AdapterFile:
    """Open and validate an adapter file; every problem is reported naming the file."""
    path = Path(path)
    if not path.is_file():
        raise MtpfError(f"adapter {path}: no such file")
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if MANIFEST not in names:
                raise MtpfError(f"adapter {path}: no {MANIFEST} inside (not an mtpf adapter file)")
            manifest = _manifest(path, z.read(MANIFEST))
            data = {n: z.read(n) for n in (LORA, HEAD) if n in names}
    except zipfile.BadZipFile as exc:
        raise MtpfError(f"adapter {path}: corrupt or truncated file ({exc})") from None
    except (zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise MtpfError(f"adapter {path}: cannot be read ({exc})") from None
    for name, info in manifest.get("members", {}).items():
        if name not in data:
            raise MtpfError(f"adapter {path}: member {name} listed in the manifest is missing")
        if hashlib.sha256(data[name]).hexdigest() != info.get("sha256"):
            raise MtpfError(f"adapter {path}: member {name} does not match its sha256 (file is corrupt)")
    head = None
    if HEAD in data:
        try:
            head = load_safetensors(data[HEAD])
        except Exception as exc:  # safetensors raises its own error type on bad bytes
            raise MtpfError(f"adapter {path}: {HEAD} is not valid safetensors ({exc})") from None
        if set(head) != {"weight", "bias"} or head["weight"].shape[0] != len(manifest.get("labels", [])):
            raise MtpfError(f"adapter {path}: head does not match its {len(manifest.get('labels', []))} labels")
    if manifest["task"] in ("ner", "tc") and head is None:
        raise MtpfError(f"adapter {path}: a {manifest['task']} adapter needs {HEAD}")
    return AdapterFile(path, manifest, data.get(LORA), head)


def _manifest(path: Path, raw: bytes) -> dict:
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MtpfError(f"adapter {path}: manifest is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise MtpfError(f"adapter {path}: format {manifest.get('format') if isinstance(manifest, dict) else None!r} "
                        f"is not {FORMAT!r}")
    if manifest.get("version") != VERSION:
        raise MtpfError(f"adapter {path}: format version {manifest.get('version')!r} is not supported "
                        f"(this mtpf-deploy reads version {VERSION}); re-export it with a matching mtpf-deploy")
    for key in ("name", "task", "backbone"):
        if key not in manifest:
            raise MtpfError(f"adapter {path}: manifest lacks {key!r}")
    if manifest["task"] not in ("ner", "tc", "lora"):
        raise MtpfError(f"adapter {path}: unknown task {manifest['task']!r}")
    return manifest
