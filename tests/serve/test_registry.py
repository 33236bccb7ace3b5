"""The app registry and the ``apps`` commands: tokens are shown once and stored hashed, grants and uids,
clear errors for bad ids and bad files, and a writer killed with SIGKILL mid-write leaves a valid registry."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from mtpf_deploy.cli import main
from mtpf_deploy.serve.registry import Registry, RegistryError, token_digest


def test_apps_commands_show_a_token_once_and_store_only_its_hash(tmp_path):
    state = str(tmp_path / "state")
    added = CliRunner().invoke(main, ["apps", "add", "notes_app", "--state", state])
    assert added.exit_code == 0, added.output
    token = json.loads(added.output)["token"]
    stored = (tmp_path / "state" / "registry.json").read_text()
    assert token not in stored and token_digest(token) in stored
    assert CliRunner().invoke(main, ["apps", "grant", "notes_app", "ner", "tc", "--state", state]).exit_code == 0
    assert CliRunner().invoke(main, ["apps", "revoke", "notes_app", "tc", "--state", state]).exit_code == 0
    listed = json.loads(CliRunner().invoke(main, ["apps", "list", "--state", state]).output)
    assert listed == {"app": "notes_app", "uid": None, "token": True, "grants": ["ner"], "uploads": []}
    registry = Registry(tmp_path / "state")
    assert registry.by_token(token).id == "notes_app" and registry.by_token(token + "x") is None
    new = json.loads(CliRunner().invoke(main, ["apps", "token", "notes_app", "--state", state]).output)["token"]
    assert registry.by_token(token) is None and registry.by_token(new).id == "notes_app"
    again = CliRunner().invoke(main, ["apps", "add", "notes_app", "--state", state])
    assert again.exit_code != 0 and "already registered" in again.output
    bad = CliRunner().invoke(main, ["apps", "add", "bad-id", "--state", state])
    assert bad.exit_code != 0 and "app id 'bad-id'" in bad.output
    uid = CliRunner().invoke(main, ["apps", "add", "svc", "--uid", "1234", "--no-token", "--state", state])
    assert json.loads(uid.output)["token"] is None and registry.by_uid(1234).id == "svc"
    assert CliRunner().invoke(main, ["apps", "remove", "svc", "--state", state]).exit_code == 0
    assert registry.by_uid(1234) is None


@pytest.mark.parametrize("content,words", [
    ("{not json", "not valid JSON"), ('{"format": "x"}', "not an mtpf-serve-registry"),
    ('{"format": "mtpf-serve-registry", "version": 1, "apps": {"a": {"uid": -1}}}', "apps.a.uid"),
    ('{"format": "mtpf-serve-registry", "version": 1, "apps": {"a": {"token_sha256": "zz"}}}', "apps.a.token_sha256"),
    ('{"format": "mtpf-serve-registry", "version": 1, "apps": {"a b": {}}}', "app id 'a b'")])
def test_a_bad_registry_file_is_a_clear_error(tmp_path, content, words):
    (tmp_path / "registry.json").write_text(content)
    with pytest.raises(RegistryError, match=words):
        Registry(tmp_path).apps()


WRITER = """
import sys
from mtpf_deploy.serve.registry import Registry
r = Registry(sys.argv[1])
r.add_app("writer")
print("ready", flush=True)
i = 0
while True:
    r.grant("writer", [f"adapter{i}"])
    i += 1
"""


def test_a_writer_killed_mid_write_leaves_a_valid_registry(tmp_path):
    for delay in (0.05, 0.2, 0.5):
        state = tmp_path / f"state{delay}"
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(state)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        app = Registry(state).apps()["writer"]  # parses, and holds a prefix of the grants made
        grants = sorted(int(g.removeprefix("adapter")) for g in app.grants)
        assert grants == list(range(len(grants)))
        Registry(state).grant("writer", ["after"])  # and the next writer is not blocked (the lock died with it)
