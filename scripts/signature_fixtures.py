"""Signed-adapter cases for the Kotlin core's JVM tests, made by the Python side.

    .venv/bin/python scripts/signature_fixtures.py android_demo/core/src/test/resources/signatures

From the committed Android test bundle's adapters it writes a trust policy, adapters, detached signatures
and ``cases.json``: for each case the adapter, its signature (or none) and what a verifier must answer
(``ok``, or the reason of the refusal). Keys are derived from fixed numbers and ECDSA signing is
deterministic (RFC 6979), so the files are the same on every run; tests/formats/test_signature_fixtures.py
regenerates them, fails on drift and checks that the Python verifier gives every committed answer.
NEVER use these keys for anything but tests: their private halves are in this file."""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mtpf_deploy.formats.adapter_file import read_adapter_file, write_adapter_file  # noqa: E402
from mtpf_deploy.formats.signature import make_statement, sign_statement  # noqa: E402

BUNDLE = ROOT / "android_demo/core/src/test/resources/bundle"
SIGNED_AT = "2026-12-02T00:00:00Z"
# test-only private scalars (public knowledge: see the module docstring)
KEYS = {"vendor": 0x5EED_0001, "shop": 0x5EED_0002, "stranger": 0x5EED_0003, "retired": 0x5EED_0004}


def private_key(name: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(KEYS[name], ec.SECP256R1())


def public_pem(name: str) -> str:
    return private_key(name).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_id(name: str) -> str:
    der = private_key(name).public_key().public_bytes(serialization.Encoding.DER,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def repack(src: Path, scratch: Path, **changes) -> tuple[bytes, dict]:
    """``src`` written again with manifest fields changed (a legitimate archive, other bytes): (bytes, manifest)."""
    af = read_adapter_file(src)
    manifest = {k: v for k, v in af.manifest.items() if k not in ("members", "format", "version")}
    manifest.update(changes)
    written = write_adapter_file(scratch, manifest, af.lora, af.head)
    data = scratch.read_bytes()
    scratch.unlink()
    return data, written


def sign(data: bytes, manifest: dict, key: str, **statement_changes) -> str:
    statement = dict(make_statement(data, manifest, key, SIGNED_AT), tool="mtpf-deploy test fixtures")
    statement.update(statement_changes)
    return json.dumps(sign_statement(statement, private_key(key)), indent=2) + "\n"


def build(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    bundle = json.loads((BUNDLE / "manifest.json").read_text())
    backbone = bundle["backbone"]["weights_sha256"]
    ner_src, tc_src = BUNDLE / "adapters/ner.mtpfa", BUNDLE / "adapters/tc.mtpfa"
    ner, tc = read_adapter_file(ner_src).manifest, read_adapter_file(tc_src).manifest
    ner_bytes, tc_bytes = ner_src.read_bytes(), tc_src.read_bytes()
    cases: list[dict] = []

    def case(name: str, data: bytes, signature: str | None, expect: str, note: str) -> None:
        (out / f"{name}.mtpfa").write_bytes(data)
        if signature is not None:
            (out / f"{name}.mtpfa.sig").write_text(signature)
        cases.append({"adapter": f"{name}.mtpfa", "signature": None if signature is None else f"{name}.mtpfa.sig",
                      "expect": expect, "note": note})

    case("good", ner_bytes, sign(ner_bytes, ner, "vendor"), "ok", "signed by a trusted key for any name")
    scratch = out / "scratch.mtpfa"
    shop_bytes, shop = repack(tc_src, scratch, name="shop-reviews")
    case("good_shop", shop_bytes, sign(shop_bytes, shop, "shop"), "ok", "a shop key signing a tc adapter named shop-*")
    changed, _ = repack(ner_src, scratch, max_length=ner["max_length"] // 2)
    case("tampered", changed, sign(ner_bytes, ner, "vendor"), "other-bytes",
         "the adapter was changed (and re-zipped) after it was signed")
    case("unsigned", ner_bytes, None, "unsigned", "no signature file; the policy accepts signed adapters only")
    case("unknown_key", ner_bytes, sign(ner_bytes, ner, "stranger"), "unknown-key", "signed by a key not in the policy")
    case("revoked_key", ner_bytes, sign(ner_bytes, ner, "retired"), "revoked-key", "signed by a revoked key")
    case("moved_backbone", ner_bytes, sign(ner_bytes, ner, "vendor", backbone_sha256="ab" * 32), "other-backbone",
         "a valid signature of these bytes, but made for another backbone")
    case("wrong_name", ner_bytes, sign(ner_bytes, ner, "vendor", name="bank"), "other-name",
         "a valid signature of these bytes, but for another adapter name")
    case("not_allowed", tc_bytes, sign(tc_bytes, tc, "shop"), "not-allowed",
         "the shop key may sign tc adapters named shop-* only; this one is named tc")
    other_bb, other_manifest = repack(ner_src, scratch, backbone={"weights_sha256": "cd" * 32})
    case("other_bundle", other_bb, sign(other_bb, other_manifest, "vendor"), "wrong-bundle",
         "honestly signed, but made for another backbone than this bundle's")
    forged = json.loads(sign(ner_bytes, ner, "vendor"))
    forged["payload"] = forged["payload"].replace('"signer":"vendor"', '"signer":"someone"')
    case("forged", ner_bytes, json.dumps(forged, indent=2) + "\n", "bad-signature",
         "the signature file's payload was edited")
    revoked_bytes, revoked_manifest = repack(ner_src, scratch, name="recalled")
    case("recalled", revoked_bytes, sign(revoked_bytes, revoked_manifest, "vendor"), "revoked-adapter",
         "the policy revokes this adapter's sha256")
    policy = {"format": "mtpf-trust-policy", "version": 1, "allow_unsigned": False,
              "keys": [{"name": "vendor", "public_key": public_pem("vendor"), "adapters": ["*"]},
                       {"name": "shop", "public_key": public_pem("shop"), "adapters": ["shop-*"], "tasks": ["tc"]},
                       {"name": "retired", "public_key": public_pem("retired"), "adapters": ["*"]}],
              "revoked_keys": [key_id("retired")], "revoked_adapters": [hashlib.sha256(revoked_bytes).hexdigest()]}
    (out / "trust.json").write_text(json.dumps(policy, indent=2) + "\n")
    (out / "cases.json").write_text(json.dumps({"backbone_sha256": backbone, "cases": cases}, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    build(parser.parse_args().out)


if __name__ == "__main__":
    main()
