"""Signed adapters under a trust policy (issue 22, Python side): every refusal is an AdapterError naming
the file and the reason; verification is on the bytes that are loaded; signing is deterministic."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from mtpf_deploy.cli import main
from mtpf_deploy.errors import AdapterError, MtpfError, SignatureRefused
from mtpf_deploy.formats.adapter_file import read_adapter_file
from mtpf_deploy.formats.signature import load_private_key, read_signature, sign_adapter, signature_path
from mtpf_deploy.formats.trust import read_trust_policy
from mtpf_deploy.runtime import SystemModel
from tests.runtime.crafting import craft


def _keygen(tmp_path, name):
    res = CliRunner().invoke(main, ["keygen", "--out", str(tmp_path / name)])
    assert res.exit_code == 0, res.output
    return tmp_path / f"{name}.pem", json.loads(res.output.splitlines()[-1])


def _policy(tmp_path, keys, **extra):
    path = tmp_path / "trust.json"
    path.write_text(json.dumps({"format": "mtpf-trust-policy", "version": 1, "keys": keys, **extra}))
    return path


def _sign(adapter, key, signer="acme"):
    res = CliRunner().invoke(main, ["sign", "--key", str(key), "--signer", signer, str(adapter)])
    assert res.exit_code == 0, res.output
    return signature_path(adapter)


@pytest.fixture()
def setup(tiny_bundle, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    key, entry = _keygen(tmp_path, "acme")
    other, other_entry = _keygen(tmp_path, "other")
    ner, tc = bundle / "adapters/ner.mtpfa", bundle / "adapters/tc.mtpfa"
    _sign(ner, key)
    _sign(tc, key)
    return bundle, key, entry, other, other_entry, ner, tc


def refused(policy, bundle, adapter, fragment):
    system = SystemModel.load(bundle, threads=1, trust=policy)
    with pytest.raises(AdapterError) as info:
        system.load_adapter(adapter)
    assert str(adapter) in str(info.value) and fragment in str(info.value), str(info.value)
    assert not system.adapters  # nothing loaded before verification passed


def test_a_signed_adapter_loads_and_inspect_shows_who_signed(setup, tmp_path):
    bundle, _, entry, *_rest, ner, tc = setup
    policy = _policy(tmp_path, [entry])
    system = SystemModel.load(bundle, threads=1, trust=policy)
    assert system.load_adapter(ner).task == "ner" and system.entities("alice smith went to paris", "ner") is not None
    res = CliRunner().invoke(main, ["inspect", str(ner), "--bundle", str(bundle), "--trust", str(policy)])
    assert res.exit_code == 0 and "signature verified: signed by acme" in res.output, res.output
    res = CliRunner().invoke(main, ["verify", "--trust", str(policy), "--bundle", str(bundle), str(tc)])
    assert res.exit_code == 0 and "task tc" in res.output, res.output


def test_every_refusal_names_its_reason(setup, tmp_path):
    bundle, key, entry, other, other_entry, ner, tc = setup
    policy = _policy(tmp_path, [entry])
    unsigned = craft(ner, tmp_path / "unsigned.mtpfa", manifest=lambda m: m.update(name="unsigned"))
    refused(policy, bundle, unsigned, "is not signed")
    by_other = craft(ner, tmp_path / "other.mtpfa", manifest=lambda m: m.update(name="byother"))
    _sign(by_other, other, "other")
    refused(policy, bundle, by_other, "which trust policy")
    refused(policy, bundle, by_other, "does not trust")
    kid = read_signature(signature_path(ner).read_bytes(), "x").key_id
    refused(_policy(tmp_path, [entry], revoked_keys=[kid]), bundle, ner, "has revoked")
    import hashlib
    refused(_policy(tmp_path, [entry], revoked_adapters=[hashlib.sha256(ner.read_bytes()).hexdigest()]), bundle, ner,
            "is revoked by")
    # the adapter changed after it was signed: the signature is over other bytes
    changed = craft(ner, tmp_path / "changed.mtpfa", manifest=lambda m: m.update(max_length=64))
    shutil.copy(signature_path(ner), signature_path(changed))
    refused(_policy(tmp_path, [entry]), bundle, changed, "is over other bytes")
    # the signature document altered: it no longer verifies
    doc = json.loads(signature_path(tc).read_text())
    doc["payload"] = doc["payload"].replace('"signer":"acme"', '"signer":"someone else"')
    signature_path(tc).write_text(json.dumps(doc))
    refused(_policy(tmp_path, [entry]), bundle, tc, "does not verify with key 'acme'")
    # a key allowed only some names / tasks
    narrow = dict(entry, adapters=["shop-*"], tasks=["tc"])
    refused(_policy(tmp_path, [narrow]), bundle, ner, "may not sign a ner adapter named 'ner'")


def test_a_signature_cannot_move_to_another_backbone_or_name(setup, tmp_path):
    bundle, key, entry, *_rest, ner, tc = setup
    data = ner.read_bytes()
    manifest = dict(read_adapter_file(ner).manifest)
    moved = sign_adapter(data, dict(manifest, backbone={"weights_sha256": "ab" * 32}), load_private_key(key), "acme")
    signature_path(ner).write_text(json.dumps(moved))
    refused(_policy(tmp_path, [entry]), bundle, ner, "is for backbone_sha256")
    renamed = sign_adapter(data, dict(manifest, name="bank"), load_private_key(key), "acme")
    signature_path(ner).write_text(json.dumps(renamed))
    refused(_policy(tmp_path, [entry]), bundle, ner, "is for name 'bank'")


def test_signing_is_deterministic_and_the_bundle_policy_applies_by_default(setup, tmp_path):
    bundle, key, entry, *_rest, ner, tc = setup
    data, manifest = ner.read_bytes(), read_adapter_file(ner).manifest
    a = sign_adapter(data, manifest, load_private_key(key), "acme", "2026-12-02T00:00:00Z")
    b = sign_adapter(data, manifest, load_private_key(key), "acme", "2026-12-02T00:00:00Z")
    assert a == b
    shutil.copy(_policy(tmp_path, [entry]), bundle / "trust.json")  # the vendor ships a policy: signed only
    unsigned = craft(ner, tmp_path / "u.mtpfa", manifest=lambda m: m.update(name="u"))
    system = SystemModel.load(bundle, threads=1)
    with pytest.raises(AdapterError, match="is not signed"):
        system.load_adapter(unsigned)
    res = CliRunner().invoke(main, ["predict", "--bundle", str(bundle), "--adapter", str(unsigned), "x"])
    assert res.exit_code == 1 and "is not signed" in res.output and "Traceback" not in res.output
    (bundle / "trust.json").unlink()
    assert SystemModel.load(bundle, threads=1).load_adapter(unsigned).name == "u"  # development mode


@pytest.mark.parametrize("content", [b"", b"{", b"\xff\xfe{}", b"[]" * 10, b"{}", b'{"format": "mtpf-trust-policy"}',
                                     b'{"format": "mtpf-trust-policy", "version": 1, "keys": [{"name": "x", '
                                     b'"public_key": "not a key"}]}', b"[" * 100_000, b" " * (2 << 20)])
def test_bad_policy_and_signature_files_are_clear_errors(setup, tmp_path, content):
    bundle, *_rest, ner, tc = setup
    path = tmp_path / "p.json"
    path.write_bytes(content)
    with pytest.raises(MtpfError):
        read_trust_policy(path)
    signature_path(ner).write_bytes(content)
    policy = _policy(tmp_path, [])
    system = SystemModel.load(bundle, threads=1, trust=policy)
    with pytest.raises(AdapterError, match=str(ner)):
        system.load_adapter(ner)


def test_keygen_adds_its_key_to_a_policy_and_a_flipped_byte_is_refused_before_parsing(setup, tmp_path):
    bundle, *_rest, ner, tc = setup
    policy = bundle / "trust.json"
    res = CliRunner().invoke(main, ["keygen", "--out", str(tmp_path / "vendor"), "--policy", str(policy)])
    assert res.exit_code == 0 and "added key 'vendor'" in res.output, res.output
    res = CliRunner().invoke(main, ["keygen", "--out", str(tmp_path / "shop"), "--policy", str(policy),
                                    "--adapters", "shop-*", "--tasks", "tc"])
    assert res.exit_code == 0, res.output
    doc = json.loads(policy.read_text())
    assert [k["name"] for k in doc["keys"]] == ["vendor", "shop"] and doc["keys"][1]["tasks"] == ["tc"]
    assert not doc["allow_unsigned"]
    res = CliRunner().invoke(main, ["keygen", "--out", str(tmp_path / "bad"), "--policy", str(policy), "--tasks", "nope"])
    assert res.exit_code == 1 and "tasks" in res.output and not (tmp_path / "bad.pem").exists()
    _sign(ner, tmp_path / "vendor.pem", "vendor")
    system = SystemModel.load(bundle, threads=1)  # the bundle's own trust.json
    assert system.load_adapter(ner).signature.statement["signer"] == "vendor"
    data = bytearray(ner.read_bytes())
    data[len(data) // 2] ^= 1  # inside a tensor member: a parser would call it a CRC or hash mismatch
    flipped = tmp_path / "flipped.mtpfa"
    flipped.write_bytes(bytes(data))
    shutil.copy(signature_path(ner), signature_path(flipped))
    with pytest.raises(SignatureRefused) as info:
        system.load_adapter(flipped)
    assert info.value.reason == "other-bytes" and str(flipped) in str(info.value)
    res = CliRunner().invoke(main, ["verify", "--trust", str(policy), str(flipped)])
    assert res.exit_code == 1 and "over other bytes" in res.output and "Traceback" not in res.output
