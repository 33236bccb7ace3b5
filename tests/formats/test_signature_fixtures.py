"""The signed-adapter cases the Kotlin core is tested on (scripts/signature_fixtures.py): committed files
match what the script makes today, and the Python verifier gives every committed answer, so both readers
refuse the same adapters for the same reasons."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mtpf_deploy.errors import AdapterError, SignatureRefused
from mtpf_deploy.formats.adapter_file import read_adapter_file
from mtpf_deploy.formats.bundle import read_bundle_manifest
from mtpf_deploy.formats.trust import read_trust_policy

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "android_demo/core/src/test/resources"
CASES = RESOURCES / "signatures"


def test_committed_fixtures_are_what_the_script_makes(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts/signature_fixtures.py"), str(tmp_path / "s")], check=True)
    made = {p.name: p.read_bytes() for p in (tmp_path / "s").iterdir()}
    committed = {p.name: p.read_bytes() for p in CASES.iterdir()}
    assert sorted(made) == sorted(committed)
    drifted = [name for name in made if made[name] != committed[name]]
    assert not drifted, f"re-run scripts/signature_fixtures.py {CASES.relative_to(ROOT)}: {drifted} changed"


def outcome(policy, backbone: dict, adapter: Path, signature: Path | None) -> str:
    data = adapter.read_bytes()
    af = read_adapter_file(adapter, data)
    try:
        policy.verify(data, af.manifest, None if signature is None else signature.read_bytes(), f"adapter {adapter}")
    except SignatureRefused as exc:
        assert str(adapter) in str(exc)
        return exc.reason
    try:
        af.check_fits(backbone)
    except AdapterError:
        return "wrong-bundle"
    return "ok"


CASE_LIST = json.loads((CASES / "cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASE_LIST, ids=[c["adapter"] for c in CASE_LIST])
def test_python_gives_every_committed_answer(case):
    policy = read_trust_policy(CASES / "trust.json")
    backbone = read_bundle_manifest(RESOURCES / "bundle")["backbone"]
    signature = None if case["signature"] is None else CASES / case["signature"]
    assert outcome(policy, backbone, CASES / case["adapter"], signature) == case["expect"], case["note"]


def test_the_cases_cover_every_refusal_the_issue_names():
    expected = {c["expect"] for c in CASE_LIST}
    assert {"ok", "other-bytes", "wrong-bundle", "other-backbone", "unknown-key", "revoked-key", "other-name",
            "not-allowed", "unsigned", "bad-signature", "revoked-adapter"} <= expected
