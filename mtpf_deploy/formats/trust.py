"""The trust policy a system vendor ships with a bundle (``BUNDLE/trust.json``, or given with ``--trust``)::

    {"format": "mtpf-trust-policy", "version": 1, "allow_unsigned": false,
     "keys": [{"name": "acme", "public_key": "-----BEGIN PUBLIC KEY-----\\n...",
               "adapters": ["acme-*"], "tasks": ["ner", "tc"]}],
     "revoked_keys": ["<key_id>"], "revoked_adapters": ["<adapter sha256>"]}

``adapters``: name patterns (``*`` and ``?`` wildcards) the key may sign (``["*"]``: any); ``tasks``: the task kinds it
may sign (absent or null: any). ``allow_unsigned`` defaults to false: a bundle with a policy loads only
signed adapters. With no policy at all the runtime is in development mode: every well-formed adapter made
for the backbone loads, as before signatures existed."""
from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import MtpfError, SignatureRefused
from . import strict_json
from .reading import read_limited
from .signature import Signature, key_id, load_public_key, read_signature
from .tasks import TASK_NAMES

FORMAT = "mtpf-trust-policy"
VERSION = 1
FILE = "trust.json"
MAX_POLICY_BYTES = 1 << 20
# adapter-name patterns: name characters plus * and ? only, so fnmatch here and the Kotlin core's glob agree
PATTERN = re.compile(r"[A-Za-z0-9_*?-]{1,128}")


@dataclass(frozen=True)
class TrustedKey:
    name: str
    public: ec.EllipticCurvePublicKey
    adapters: tuple[str, ...] = ("*",)
    tasks: tuple[str, ...] | None = None

    def allows(self, name: str, task: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.adapters) and (self.tasks is None or task in self.tasks)


@dataclass(frozen=True)
class TrustPolicy:
    keys: dict[str, TrustedKey]  # key_id -> key
    allow_unsigned: bool = False
    revoked_keys: frozenset[str] = field(default_factory=frozenset)
    revoked_adapters: frozenset[str] = field(default_factory=frozenset)
    source: str = "trust policy"

    def verify_bytes(self, data: bytes, signature_raw: bytes | None, where: str) -> Signature | None:
        """The checks that need only the file's bytes, made before anything parses them: not revoked, signed
        by a trusted key, a signature that verifies, over exactly these bytes. Returns the signature (None:
        an unsigned adapter the policy allows); its claims are checked against the manifest by ``check_claims``."""
        digest = hashlib.sha256(data).hexdigest()
        if digest in self.revoked_adapters:
            raise SignatureRefused("revoked-adapter", f"{where}: this adapter (sha256 {digest[:16]}…) is revoked by "
                                   f"{self.source}")
        if signature_raw is None:
            if self.allow_unsigned:
                return None
            raise SignatureRefused("unsigned", f"{where}: is not signed (no .sig file beside it), and {self.source} "
                                   "accepts signed adapters only")
        sig = read_signature(signature_raw, f"{where}.sig")
        if sig.key_id in self.revoked_keys:
            raise SignatureRefused("revoked-key", f"{where}: signed with key {sig.key_id[:16]}…, which {self.source} has "
                                   "revoked")
        key = self.keys.get(sig.key_id)
        if key is None:
            raise SignatureRefused("unknown-key", f"{where}: signed with key {sig.key_id[:16]}…, which {self.source} "
                                   "does not trust")
        if not sig.verify_with(key.public):
            raise SignatureRefused("bad-signature", f"{where}: the signature does not verify with key {key.name!r} (the "
                                   "signature file was altered, or made by another key)")
        if sig.statement["adapter_sha256"] != digest:
            raise SignatureRefused("other-bytes", f"{where}: the signature by {key.name!r} is over other bytes (sha256 "
                                   f"{sig.statement['adapter_sha256'][:16]}…, this file {digest[:16]}…): the adapter "
                                   "was changed")
        return sig

    def check_claims(self, sig: Signature | None, manifest: dict, where: str) -> None:
        """A verified signature is for the backbone, name and task the adapter declares, and its key may sign them."""
        if sig is None:
            return
        key, st = self.keys[sig.key_id], sig.statement
        for fld, actual, reason in (("backbone_sha256", manifest["backbone"]["weights_sha256"], "other-backbone"),
                                    ("name", manifest["name"], "other-name"), ("task", manifest["task"], "other-task")):
            if st[fld] != actual:
                raise SignatureRefused(reason, f"{where}: the signature by {key.name!r} is for {fld} {st[fld]!r}, the "
                                       f"adapter declares {actual!r}")
        if not key.allows(manifest["name"], manifest["task"]):
            raise SignatureRefused("not-allowed", f"{where}: key {key.name!r} may not sign a {manifest['task']} adapter "
                                   f"named {manifest['name']!r} ({self.source}: adapters {list(key.adapters)}, tasks "
                                   f"{'any' if key.tasks is None else list(key.tasks)})")

    def verify(self, data: bytes, manifest: dict, signature_raw: bytes | None, where: str) -> Signature | None:
        """Both steps at once, for a caller that has parsed the file already (``inspect``, ``verify``)."""
        sig = self.verify_bytes(data, signature_raw, where)
        self.check_claims(sig, manifest, where)
        return sig


def read_trust_policy(path: str | Path) -> TrustPolicy:
    """Read and validate a policy file; errors name the file and the field."""
    return check_policy_document(read_policy_document(path), f"trust policy {path}")


def read_policy_document(path: str | Path) -> dict:
    """A policy file's JSON object (format and version checked; the rest by ``check_policy_document``)."""
    where = f"trust policy {path}"
    raw = read_limited(Path(path), where, MAX_POLICY_BYTES, "a trust policy")
    try:
        return strict_json.load_document(raw, where, FORMAT, VERSION, MAX_POLICY_BYTES)
    except strict_json.StrictJSONError as exc:
        raise MtpfError(str(exc)) from None


def new_policy_document() -> dict:
    """An empty policy: no trusted key, unsigned adapters refused."""
    return {"format": FORMAT, "version": VERSION, "allow_unsigned": False, "keys": [], "revoked_keys": [],
            "revoked_adapters": []}


def add_trusted_key(doc: dict, entry: dict) -> dict:
    """``doc`` with ``entry`` (name, public_key, adapters, tasks) added, replacing a key of the same name."""
    keys = [k for k in doc.get("keys", []) if not (isinstance(k, dict) and k.get("name") == entry["name"])]
    return {**doc, "keys": [*keys, entry]}


def check_policy_document(doc: dict, where: str) -> TrustPolicy:
    """Validate a parsed policy; errors name ``where`` and the field."""
    unknown = set(doc) - {"format", "version", "allow_unsigned", "keys", "revoked_keys", "revoked_adapters"}
    if unknown:
        raise MtpfError(f"{where}: unknown field(s) {sorted(unknown)}")
    allow = doc.get("allow_unsigned", False)
    if not isinstance(allow, bool):
        raise MtpfError(f"{where}: field 'allow_unsigned' must be true or false")
    keys: dict[str, TrustedKey] = {}
    entries = doc.get("keys", [])
    if not isinstance(entries, list):
        raise MtpfError(f"{where}: field 'keys' must be a list")
    for i, entry in enumerate(entries):
        at = f"{where}: keys[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not isinstance(entry.get("public_key"), str):
            raise MtpfError(f"{at}: needs string fields name and public_key")
        if set(entry) - {"name", "public_key", "adapters", "tasks"}:
            raise MtpfError(f"{at}: unknown field(s) {sorted(set(entry) - {'name', 'public_key', 'adapters', 'tasks'})}")
        public = load_public_key(entry["public_key"], at)
        patterns = entry.get("adapters", ["*"])
        tasks = entry.get("tasks")
        if not isinstance(patterns, list) or not patterns or \
                not all(isinstance(p, str) and PATTERN.fullmatch(p) for p in patterns):
            raise MtpfError(f"{at}: field 'adapters' must be a non-empty list of name patterns (letters, digits, "
                            "'-', '_', and the wildcards * and ?)")
        if tasks is not None and (not isinstance(tasks, list) or not set(tasks) <= set(TASK_NAMES)):
            raise MtpfError(f"{at}: field 'tasks' must be null or a list of {', '.join(TASK_NAMES)}")
        keys[key_id(public)] = TrustedKey(entry["name"], public, tuple(patterns), None if tasks is None else tuple(tasks))
    revoked = {}
    for fld in ("revoked_keys", "revoked_adapters"):
        values = doc.get(fld, [])
        if not isinstance(values, list) or not all(isinstance(v, str) and len(v) == 64 for v in values):
            raise MtpfError(f"{where}: field {fld!r} must be a list of 64-hex-digit sha256 values")
        revoked[fld] = frozenset(values)
    return TrustPolicy(keys, allow, revoked["revoked_keys"], revoked["revoked_adapters"], where)
