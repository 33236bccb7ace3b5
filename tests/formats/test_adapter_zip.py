"""One meaning per adapter file: only the canonical ZIP layout is read, by Python and by the Kotlin core
(the same hostile files: android_demo/core/src/test/resources/hostile, CanonicalZipTest.kt)."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mtpf_deploy.errors import AdapterError
from mtpf_deploy.formats.adapter_file import read_adapter_file

REPO = Path(__file__).resolve().parents[2]
HOSTILE = REPO / "android_demo/core/src/test/resources/hostile"
CASES = json.loads((HOSTILE / "cases.json").read_text())


def test_the_committed_hostile_files_are_what_the_generator_writes(tmp_path):
    src = REPO / "android_demo/core/src/test/resources/bundle/adapters/ner.mtpfa"
    subprocess.run([sys.executable, str(REPO / "scripts/hostile_archives.py"), str(src), str(tmp_path)], check=True,
                   capture_output=True)
    for path in sorted(tmp_path.iterdir()):
        assert path.read_bytes() == (HOSTILE / path.name).read_bytes(), f"{path.name} drifted: re-run the script"


def test_the_honest_archive_is_read():
    assert read_adapter_file(HOSTILE / "honest.mtpfa").task == "ner"


@pytest.mark.parametrize("case", CASES["refused"])
def test_every_other_layout_is_refused_although_zipfile_reads_it(case):
    path = HOSTILE / f"{case}.mtpfa"
    with zipfile.ZipFile(path) as z:  # the central directory alone shows an adapter's members ...
        assert set(z.namelist()) == {"head.safetensors", "lora.safetensors", "manifest.json"}
    with pytest.raises(AdapterError) as info:  # ... but the file is not one adapter to every reader
        read_adapter_file(path)
    assert str(path) in str(info.value) and "Traceback" not in str(info.value)


@pytest.mark.parametrize("case", CASES["core_refuses"])
def test_what_the_kotlin_core_refuses_is_a_valid_adapter_here(case):
    """A SEQ_CLS pooler head runs in Python; the Kotlin core refuses it by name (CanonicalZipTest.kt)."""
    adapter = read_adapter_file(HOSTILE / f"{case}.mtpfa")
    assert adapter.manifest["head"] == "pooler-linear" and "pooler_weight" in adapter.head


def test_what_write_adapter_file_writes_is_canonical(tiny_bundle):
    for path in (tiny_bundle / "adapters").iterdir():
        read_adapter_file(path)  # the writer and the canonical reader agree on every adapter task
