"""Texts and text pairs for ``predict``: files or stdin, strictly UTF-8, errors naming the line."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import MtpfError
from ..formats import strict_json


def read_texts(input_file: Path | None) -> list[str]:
    """One text per line of ``input_file`` (or stdin), strictly UTF-8; errors name the line."""
    source = "stdin" if input_file in (None, Path("-")) else str(input_file)
    if source != "stdin" and not Path(str(input_file)).is_file():
        raise MtpfError(f"{source}: no such file")
    raw = sys.stdin.buffer.read() if source == "stdin" else Path(str(input_file)).read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise MtpfError(f"{source}: the file is UTF-16; convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)")
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    texts = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            texts.append(line.removesuffix(b"\r").decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise MtpfError(f"{source}:{number}: not valid UTF-8 (byte {line[exc.start]:#04x} at column {exc.start + 1})") from None
    if texts and texts[-1] == "":
        texts.pop()  # the newline that ends the last line
    return texts


def argument_texts(texts: tuple[str, ...]) -> list[str]:
    """Command-line texts; bytes that are not UTF-8 reach Python as lone surrogates."""
    for i, t in enumerate(texts, start=1):
        try:
            t.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise MtpfError(f"argument {i} is not valid UTF-8 (at character {exc.start + 1}); "
                            "pass UTF-8 text or use --input FILE") from None
    return list(texts)


def read_pairs(lines: list[str], input_file: Path | None) -> list[tuple[str, str]]:
    """JSONL text pairs: each line an object with string fields text_a and text_b (errors name the line)."""
    source = "stdin" if input_file in (None, Path("-")) else str(input_file)
    pairs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = strict_json.loads(line)
        except strict_json.StrictJSONError as exc:
            raise MtpfError(f"{source}:{number}: not a JSON object ({exc})") from None
        if not isinstance(obj, dict) or not all(isinstance(obj.get(k), str) for k in ("text_a", "text_b")):
            raise MtpfError(f"{source}:{number}: expected an object with string fields text_a and text_b")
        pairs.append((obj["text_a"], obj["text_b"]))
    return pairs
