"""Checking what callers pass: texts, pairs, positive integers (errors are ``InputError``)."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..errors import InputError

MAX_TEXTS_PER_CALL = 100_000  # a call's results stay in memory together; split larger jobs into calls
MAX_TEXT_CHARS = 1 << 22  # 4 Mi characters per text (long texts run in windows; a book chapter is ~100 k)


def as_texts(texts: str | Iterable[str]) -> tuple[list[str], bool]:
    """The texts of a call as a list, and whether a single ``str`` was given. Every text must be a
    ``str`` of valid Unicode (no lone surrogates, which cannot be encoded)."""
    single = isinstance(texts, str)
    items: list[object]
    if single:
        items = [texts]
    elif isinstance(texts, (bytes, bytearray)) or not isinstance(texts, Iterable):
        raise InputError(f"texts must be a str or an iterable of str, not {type(texts).__name__}")
    else:
        items = list(texts)
    if len(items) > MAX_TEXTS_PER_CALL:
        raise InputError(f"{len(items)} texts in one call; at most {MAX_TEXTS_PER_CALL} (split the job into calls)")
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise InputError(f"text {i} is a {type(t).__name__}, not a str")
        if len(t) > MAX_TEXT_CHARS:
            raise InputError(f"text {i} has {len(t)} characters; at most {MAX_TEXT_CHARS} per text")
        try:
            t.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(f"text {i} is not valid Unicode: {exc.reason} at character {exc.start} "
                             f"({t[exc.start]!r}); decode input as UTF-8 first") from None
    return items, single  # type: ignore[return-value]  # every item was checked to be a str


def as_pairs(pairs: object) -> tuple[list[tuple[str, str]], bool]:
    """The text pairs of a call and whether one pair (a 2-tuple of str) was given; texts checked as ``as_texts``."""
    single = isinstance(pairs, tuple) and len(pairs) == 2 and all(isinstance(t, str) for t in pairs)
    items = [pairs] if single else pairs
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise InputError(f"pairs must be a (text_a, text_b) tuple or an iterable of them, not {type(pairs).__name__}")
    out = []
    for i, pair in enumerate(items):  # type: ignore[arg-type]
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise InputError(f"pair {i} is not a (text_a, text_b) pair: {pair!r:.80}")
        texts, _ = as_texts(list(pair))
        out.append((texts[0], texts[1]))
    return out, single


def positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{name} must be a positive integer, not {value!r}")
    return int(value)
