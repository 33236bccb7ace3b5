"""Reading an untrusted file whole, with its size checked before a byte is read."""
from __future__ import annotations

from pathlib import Path

from ..errors import MtpfError


def read_limited(path: Path, where: str, max_bytes: int, what: str, error: type[MtpfError] = MtpfError) -> bytes:
    """``path``'s bytes; a missing file, one over ``max_bytes`` (``what`` names the kind) or an unreadable
    one is an ``error`` starting with ``where``."""
    if not path.is_file():
        raise error(f"{where}: no such file")
    size = path.stat().st_size
    if size > max_bytes:
        raise error(f"{where}: {size} bytes is larger than {what} may be ({max_bytes})")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise error(f"{where}: cannot be read ({exc.strerror or exc})") from None
