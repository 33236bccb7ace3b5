"""Files on disk (issue 14, case 12): no temp files when adapters load, killed exports leave nothing
that the next run does not clean, permissions a system service can read, an honest resumed log."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time

import pytest

from mtpf_deploy.formats.atomic import atomic_dir
from mtpf_deploy.runtime import SystemModel
from tests.conftest import REPO


def test_loading_adapters_writes_no_temp_file(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    system = SystemModel.load(tiny_bundle, threads=1)
    for _ in range(3):
        system.load_adapter("ner")
        system.entities(["alice smith went to paris"], "ner")
    assert list(tmp_path.iterdir()) == []


def test_stale_temp_folders_of_dead_writers_are_removed(tmp_path):
    dead = tmp_path / ".out.tmp-999999999-abcd"  # no such pid
    dead.mkdir()
    (dead / "backbone.onnx").write_bytes(b"half")
    alive = tmp_path / f".out.tmp-{os.getppid()}-efgh"  # a running writer's folder is left alone
    alive.mkdir()
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "x").write_text("done")
    assert not dead.exists() and alive.exists() and (tmp_path / "out/x").read_text() == "done"


def test_a_kill_between_the_two_renames_loses_nothing(tmp_path):
    """Killed after moving the previous output aside and before moving the new one in: the next write
    (or any cleanup) puts the previous output back; it never deletes the only copy (issue 21, item 5)."""
    out = tmp_path / "bundle"
    (tmp_path / ".bundle.tmp-999999999-old").mkdir()  # the previous bundle, moved aside by a dead writer
    (tmp_path / ".bundle.tmp-999999999-old/manifest.json").write_text("previous")
    (tmp_path / ".bundle.tmp-999999999-x1").mkdir()  # and its finished, never moved-in new bundle
    with pytest.raises(RuntimeError), atomic_dir(out, overwrite=True):
        raise RuntimeError("this write fails too")
    assert (out / "manifest.json").read_text() == "previous" and list(tmp_path.iterdir()) == [out]
    with atomic_dir(out, overwrite=True) as tmp:
        (tmp / "manifest.json").write_text("new")
    assert (out / "manifest.json").read_text() == "new" and list(tmp_path.iterdir()) == [out]


def test_killed_export_is_cleaned_by_the_next_one(tiny_bert, tiny_adapters, tmp_path):
    pytest.importorskip("torch", reason="export needs the export install")
    env = dict(os.environ, TMPDIR=str(tmp_path / "systmp"))
    (tmp_path / "systmp").mkdir()
    cmd = [sys.executable, "-m", "mtpf_deploy.cli", "export", "--backbone", str(tiny_bert), "--adapters",
           f"ner={tiny_adapters['ner']}", "--out", str(tmp_path / "bundle")]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob(".bundle.tmp-*")):
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(tmp_path.glob(".bundle.tmp-*")), "the export was killed before it started writing"
    assert not list((tmp_path / "systmp").glob("ort.quant*"))  # the quantizer writes inside the bundle's temp
    res = subprocess.run(cmd + ["--quantize", "int8"], cwd=REPO, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert not list(tmp_path.glob(".bundle.tmp-*")) and not list((tmp_path / "systmp").glob("ort.quant*"))


def test_outputs_are_readable_by_other_users(tiny_bert, tiny_adapters, tiny_bundle, tmp_path):
    pytest.importorskip("torch", reason="export needs the export install")
    from click.testing import CliRunner

    from mtpf_deploy.cli import main

    old = os.umask(0o022)
    try:
        res = CliRunner().invoke(main, ["export", "--backbone", str(tiny_bert), "--adapters", f"ner={tiny_adapters['ner']}",
                                        "--quantize", "none", "--out", str(tmp_path / "b")])
        assert res.exit_code == 0, res.output
        res = CliRunner().invoke(main, ["pack", "--bundle", str(tiny_bundle), "--adapter", str(tiny_adapters["tc"]),
                                        "--name", "tc2", "--out", str(tmp_path / "tc2.mtpfa")])
        assert res.exit_code == 0, res.output
    finally:
        os.umask(old)
    for path in [tmp_path / "b", tmp_path / "b/adapters"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o755, path
    for path in [tmp_path / "b/manifest.json", tmp_path / "b/backbone.onnx", tmp_path / "b/adapters/ner.mtpfa",
                 tmp_path / "tc2.mtpfa"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_resumed_log_has_each_step_once(tiny_bert, tmp_path):
    pytest.importorskip("torch", reason="pretrain needs the train install")
    from mtpf_deploy.training.pretrain.trainer import Pretrainer
    from tests.training.pretrain.conftest import QUIET, make_config

    pf = _pf_data(tmp_path)
    kw = dict(steps=8, checkpoint_every=4, strategy="pf-tc")
    Pretrainer(make_config(tiny_bert, pf, **kw), tmp_path / "run", QUIET).run(stop_after=6)  # dies after step 6
    Pretrainer(make_config(tiny_bert, pf, **kw), tmp_path / "run", QUIET).run(resume=True)  # resumes from step 4
    steps = [json.loads(line)["step"] for line in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))


def _pf_data(tmp_path) -> dict[str, str]:
    from tests.conftest import make_tc_examples

    texts = [x.text for x in make_tc_examples(64, 9)]
    (tmp_path / "pairs.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in zip(texts[::2], texts[1::2])))
    return {"pairs": str(tmp_path / "pairs.tsv"), "ner": None}


@pytest.mark.parametrize("name", ["a", "b"])
def test_two_writers_of_one_output_never_leave_a_mix(tmp_path, name):
    with atomic_dir(tmp_path / "out", overwrite=True) as tmp:
        (tmp / "who").write_text(name)
    assert (tmp_path / "out/who").read_text() == name and not list(tmp_path.glob(".out.*"))
