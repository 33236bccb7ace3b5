"""JSON from untrusted input, parsed one way everywhere: standard JSON only (no NaN / Infinity), no
duplicate keys, nesting bounded (a deeply nested line is an error, not a RecursionError)."""
from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # no file of ours nests deeper than a handful of levels


class StrictJSONError(ValueError):
    """Why a text is not the JSON we accept (the caller names the file / line)."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise StrictJSONError(f"duplicate key(s) {sorted({k for k in keys if keys.count(k) > 1})}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise StrictJSONError(f"{name} is not a JSON value")


def _depth(text: str) -> int:
    depth = peak = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            peak = max(peak, depth)
        elif ch in "]}":
            depth -= 1
    return peak


def load_document(raw: bytes, where: str, fmt: str, version: int, max_bytes: int) -> dict:
    """A JSON object of ``format`` ``fmt`` and ``version`` (a signature, a trust policy); errors are
    ``StrictJSONError`` messages that start with ``where``."""
    if len(raw) > max_bytes:
        raise StrictJSONError(f"{where}: {len(raw)} bytes is larger than a {fmt} document may be")
    try:
        doc = loads(raw)
    except StrictJSONError as exc:
        raise StrictJSONError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt or type(doc.get("version")) is not int or \
            doc.get("version") != version:
        raise StrictJSONError(f"{where}: not an {fmt} version {version} document")
    return doc


def loads(raw: str | bytes) -> Any:
    """Parse ``raw`` (UTF-8 bytes or str); every problem is a ``StrictJSONError`` with a short reason."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
    except UnicodeDecodeError as exc:
        raise StrictJSONError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if _depth(text) > MAX_DEPTH:
        raise StrictJSONError(f"nested more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise StrictJSONError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise StrictJSONError(f"nested more than {MAX_DEPTH} levels deep") from None
