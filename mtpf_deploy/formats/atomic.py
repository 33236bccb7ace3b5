"""Atomic writes: a failed write leaves nothing half-written at the destination.

Temporary siblings are named ``.{name}.tmp-{pid}-{random}``; a later write to the same destination
removes those whose process is gone (a run killed with SIGKILL cannot clean up after itself), except
a previous output moved aside by a run killed mid-replace, which is put back.
Outputs get the permissions of an ordinary file or folder under the process umask (0644 / 0755 with
umask 022), so a system service running as another user can read what ``export`` and ``pack`` write."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import MtpfError


def _umask() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(out: Path) -> None:
    """Remove ``.{out.name}.tmp-{pid}-*`` siblings left by processes that no longer run. A process killed
    between moving the previous ``out`` aside and moving the new one in left ``out`` missing and the
    previous output as ``.{name}.tmp-{pid}-old``: that one is put back as ``out``, never deleted."""
    prefix = f".{out.name}.tmp-"
    for stale in sorted(out.parent.glob(f"{prefix}*")):
        pid = stale.name[len(prefix):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _pid_alive(int(pid)):
            continue
        if stale.name.endswith("-old") and not out.exists() and not out.is_symlink():
            os.replace(stale, out)  # the only copy of the previous output: recover it
            continue
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)


def make_readable(path: Path) -> None:
    """0755 folders / 0644 files (less the umask), recursively."""
    mask = _umask()
    if path.is_dir():
        for root, _dirs, files in os.walk(path):
            os.chmod(root, 0o777 & ~mask)
            for f in files:
                os.chmod(os.path.join(root, f), 0o666 & ~mask)
    else:
        os.chmod(path, 0o666 & ~mask)


@contextmanager
def atomic_dir(out: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces ``out``, on error it is removed."""
    out = Path(out)
    if out.exists() and not overwrite and (out.is_file() or any(out.iterdir())):
        raise MtpfError(f"{out} already exists and is not empty (pass --overwrite to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    try:
        yield tmp
        make_readable(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.tmp-{os.getpid()}-old")
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()


@contextmanager
def atomic_file(out: str | Path, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary sibling file path; on success it is renamed onto ``out``."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise MtpfError(f"{out} already exists (pass --overwrite to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        make_readable(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
