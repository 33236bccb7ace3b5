"""Opening text files the way the shared data needs: gzip by suffix, UTF-8, BOM stripped, CRLF folded."""
from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path

from ..errors import DataFormatError, MtpfError


def open_text(path: str | Path) -> io.TextIOBase:
    """Open a UTF-8 text file (``.gz`` transparently); a leading BOM is dropped, ``\\r\\n`` becomes ``\\n``."""
    path = Path(path)
    if not path.exists():
        raise MtpfError(f"{path}: no such file")
    if path.is_dir():
        raise MtpfError(f"{path}: is a directory, expected a file")
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline=None)


def read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` without the newline, keeping empty lines (line-aligned files need them)."""
    try:
        with open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                yield number, line.rstrip("\n")
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, None, f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataFormatError(path, None, f"cannot be read ({exc})") from None
