"""Signed adapters: who made an adapter file, for which backbone, under which name and task.

A signature is a detached file beside the adapter (``NAME.mtpfa.sig``): a DSSE-style envelope, JSON::

    {"format": "mtpf-adapter-signature", "version": 1, "key_id": "<sha256 of the public key, DER>",
     "payload_type": "application/vnd.mtpf.adapter-statement+json",
     "payload": "{\"adapter_sha256\":...,\"backbone_sha256\":...,\"name\":...,\"task\":...,\"signer\":...,
                 \"signed_at\":\"2026-12-02T18:00:00Z\",\"tool\":\"mtpf-deploy 0.1.0\"}",
     "signature": "<hex of the DER ECDSA P-256 / SHA-256 signature over PAE(payload_type, payload)>"}

``PAE`` is DSSE's pre-authentication encoding, ``b"DSSEv1 %d %s %d %s" % (len(type), type, len(body), body)``:
the verifier checks the signature over the payload's exact bytes and only then reads the statement from
them, so no side has to re-create a canonical JSON (the Kotlin core verifies the same bytes with
``java.security``). The payload is ASCII; the signature is hex, not base64, because ``java.util.Base64``
is missing before Android API 26.

The statement binds the adapter's exact bytes (their sha256) to the backbone weights hash, the name and
the task its manifest declares, so a signature cannot be moved to other bytes, another backbone or
another name. ECDSA P-256 with SHA-256 (``cryptography``; deterministic RFC 6979 nonces, so signing the
same statement twice gives the same bytes) is what Android's ``java.security`` verifies from API 24 on
(``SHA256withECDSA``). The trust policy that says which keys are trusted is ``trust.py``."""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .. import __version__
from ..errors import AdapterError, MtpfError
from . import strict_json
from .reading import read_limited

FORMAT = "mtpf-adapter-signature"
PAYLOAD_TYPE = "application/vnd.mtpf.adapter-statement+json"
VERSION = 1
SUFFIX = ".sig"
MAX_SIGNATURE_BYTES = 64 << 10
STATEMENT_FIELDS = ("adapter_sha256", "backbone_sha256", "name", "task", "signer", "signed_at", "tool")
HEX = re.compile(r"(?:[0-9a-f]{2})+")
HEX64 = re.compile(r"[0-9a-f]{64}")
ALGORITHM = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)


def statement_text(statement: dict) -> str:
    """The payload a signer writes: the statement as sorted, compact, ASCII JSON (readers take it as it is)."""
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: the bytes a signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def key_id(public: ec.EllipticCurvePublicKey) -> str:
    """sha256 (hex) of the public key's DER SubjectPublicKeyInfo."""
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def load_public_key(pem: str | bytes, where: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise MtpfError(f"{where}: not a PEM public key ({str(exc)[:120]})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise MtpfError(f"{where}: the key must be an ECDSA P-256 key")
    return key


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    where = f"key {path}"
    if not path.is_file():
        raise MtpfError(f"{where}: no such file")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise MtpfError(f"{where}: not an unencrypted PEM private key ({str(exc)[:120]})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise MtpfError(f"{where}: the key must be an ECDSA P-256 key (mtpf-deploy keygen makes one)")
    return key


def generate_key_pair() -> tuple[bytes, bytes]:
    """(private PEM, public PEM) of a new P-256 key."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def make_statement(data: bytes, manifest: dict, signer: str, signed_at: str | None = None) -> dict:
    """What a signature of adapter bytes ``data`` (whose parsed manifest is ``manifest``) says."""
    return {"adapter_sha256": hashlib.sha256(data).hexdigest(),
            "backbone_sha256": manifest["backbone"]["weights_sha256"], "name": manifest["name"],
            "task": manifest["task"], "signer": signer,
            "signed_at": signed_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "tool": f"mtpf-deploy {__version__}"}


def sign_statement(statement: dict, key: ec.EllipticCurvePrivateKey) -> dict:
    """The signature document (envelope) of one statement."""
    payload = statement_text(statement)
    signature = key.sign(pae(PAYLOAD_TYPE, payload.encode("ascii")), ALGORITHM)
    return {"format": FORMAT, "version": VERSION, "key_id": key_id(key.public_key()), "payload_type": PAYLOAD_TYPE,
            "payload": payload, "signature": signature.hex()}


def sign_adapter(data: bytes, manifest: dict, key: ec.EllipticCurvePrivateKey, signer: str,
                 signed_at: str | None = None) -> dict:
    """The signature document of adapter bytes ``data`` (whose parsed manifest is ``manifest``)."""
    return sign_statement(make_statement(data, manifest, signer, signed_at), key)


@dataclass(frozen=True)
class Signature:
    """A parsed signature document (not yet verified)."""

    key_id: str
    statement: dict
    signature: bytes
    signed_bytes: bytes  # PAE(payload_type, payload)

    def verify_with(self, public: ec.EllipticCurvePublicKey) -> bool:
        try:
            public.verify(self.signature, self.signed_bytes, ALGORITHM)
        except InvalidSignature:
            return False
        return True


def read_signature(raw: bytes, where: str) -> Signature:
    """Parse a signature document; every problem is an ``AdapterError`` naming the file and field.
    The statement it returns is what the payload *claims* until ``verify_with`` passes."""
    try:
        doc = strict_json.load_document(raw, where, FORMAT, VERSION, MAX_SIGNATURE_BYTES)
    except strict_json.StrictJSONError as exc:
        raise AdapterError(str(exc)) from None
    fields = {"format", "version", "key_id", "payload_type", "payload", "signature"}
    if set(doc) != fields:
        raise AdapterError(f"{where}: fields must be exactly {', '.join(sorted(fields))}")
    kid, payload, sig = doc["key_id"], doc["payload"], doc["signature"]
    if doc["payload_type"] != PAYLOAD_TYPE:
        raise AdapterError(f"{where}: field 'payload_type' must be {PAYLOAD_TYPE!r}")
    if not isinstance(kid, str) or not HEX64.fullmatch(kid):
        raise AdapterError(f"{where}: field 'key_id' must be 64 lower-case hex digits")
    if not isinstance(sig, str) or not HEX.fullmatch(sig) or len(sig) > 512:
        raise AdapterError(f"{where}: field 'signature' must be the hex of a DER signature")
    if not isinstance(payload, str) or not payload.isascii():
        raise AdapterError(f"{where}: field 'payload' must be an ASCII string")
    try:
        statement = strict_json.loads(payload.encode())
    except strict_json.StrictJSONError as exc:
        raise AdapterError(f"{where}: field 'payload' is not a JSON statement ({exc})") from None
    if not isinstance(statement, dict) or set(statement) != set(STATEMENT_FIELDS) or \
            not all(isinstance(statement[k], str) for k in STATEMENT_FIELDS):
        raise AdapterError(f"{where}: field 'payload' must hold exactly the strings {', '.join(STATEMENT_FIELDS)}")
    return Signature(kid, statement, bytes.fromhex(sig), pae(PAYLOAD_TYPE, payload.encode("ascii")))


def signature_path(adapter: Path) -> Path:
    return adapter.with_name(adapter.name + SUFFIX)


def read_signature_file(adapter: Path) -> bytes | None:
    """The raw signature document beside ``adapter`` (size checked before reading), or None: unsigned."""
    path = signature_path(adapter)
    if not path.is_file():
        return None
    return read_limited(path, f"adapter {adapter}{SUFFIX}", MAX_SIGNATURE_BYTES, "a signature", AdapterError)
