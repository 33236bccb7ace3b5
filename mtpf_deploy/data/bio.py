"""Token-per-line NER files (BIO/IOB2): tab or space separated, token-first or tag-first, CoNLL-2003
4-column with ``-DOCSTART-``, whitespace-only separator lines, optional gzip."""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataFormatError
from .io import read_lines
from .types import TaggedSentence

_IOB2 = re.compile(r"^(O|[BI]-\S+)$")


def read_bio(
    path: str | Path,
    tag_position: str = "auto",
    scheme: str = "iob2",
) -> list[TaggedSentence]:
    """Read sentences from a token-per-line file.

    ``tag_position`` is ``"last"`` (``token tag`` or CoNLL ``word POS chunk TAG``), ``"first"``
    (``tag token``) or ``"auto"`` (whichever column holds IOB2 tags in the first 200 lines; MIT
    Restaurant is documented as tag-first but is token-first). ``scheme="iob2"`` checks every tag is
    ``O``/``B-X``/``I-X``; ``"any"`` accepts arbitrary tags (pseudo labels).
    """
    if tag_position not in ("last", "first", "auto"):
        raise ValueError(f"tag_position must be 'last', 'first' or 'auto', not {tag_position!r}")
    if tag_position == "auto":
        tag_position = _detect_tag_position(path) if scheme == "iob2" else "last"
    sentences: list[TaggedSentence] = []
    words: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        if words:
            sentences.append(TaggedSentence(tuple(words), tuple(tags)))
            words.clear()
            tags.clear()

    for number, line in read_lines(path):
        if not line.strip():
            flush()
            continue
        fields = line.split("\t") if "\t" in line.strip() else line.split()
        fields = [f.strip() for f in fields if f.strip()]
        if fields[0] == "-DOCSTART-":
            flush()
            continue
        if len(fields) < 2:
            raise DataFormatError(path, number, f"expected a token and a tag, got {line.strip()!r}")
        if tag_position == "last":
            word, tag = fields[0], fields[-1]
        else:
            tag, word = fields[0], fields[-1]
        if scheme == "iob2" and not _IOB2.match(tag):
            raise DataFormatError(
                path, number, f"bad tag {tag!r} (expected O, B-TYPE or I-TYPE; is the tag column right?)"
            )
        words.append(word)
        tags.append(tag)
    flush()
    return sentences


def _detect_tag_position(path: str | Path, probe: int = 200) -> str:
    first = last = 0
    for number, line in read_lines(path):
        fields = line.split()
        if len(fields) >= 2 and fields[0] != "-DOCSTART-":
            first += bool(_IOB2.match(fields[0]))
            last += bool(_IOB2.match(fields[-1]))
        if number >= probe:
            break
    return "first" if first > last else "last"


def read_aligned_bio(words_path: str | Path, tags_path: str | Path) -> list[TaggedSentence]:
    """Read line-aligned ``seq.in`` / ``seq.out`` files (one sentence per line, space-separated)."""
    word_lines = list(read_lines(words_path))
    tag_lines = list(read_lines(tags_path))
    if len(word_lines) != len(tag_lines):
        raise DataFormatError(
            tags_path, None, f"has {len(tag_lines)} lines but {words_path} has {len(word_lines)}"
        )
    sentences = []
    for (number, wline), (_, tline) in zip(word_lines, tag_lines):
        words, tags = wline.split(), tline.split()
        if len(words) != len(tags):
            raise DataFormatError(tags_path, number, f"{len(tags)} tags for {len(words)} words")
        for tag in tags:
            if not _IOB2.match(tag):
                raise DataFormatError(tags_path, number, f"bad tag {tag!r} (expected O, B-TYPE or I-TYPE)")
        if words:
            sentences.append(TaggedSentence(tuple(words), tuple(tags)))
    return sentences


def entity_types(sentences: list[TaggedSentence]) -> list[str]:
    """Sorted entity types used in IOB2 tags."""
    return sorted({t[2:] for s in sentences for t in s.tags if t != "O"})


def bio_label_list(types: list[str]) -> list[str]:
    """The IOB2 label list for entity types: ``O`` first, then ``B-X``, ``I-X`` per type."""
    return ["O"] + [f"{p}-{t}" for t in types for p in ("B", "I")]


def bio_entity_spans(tags: list[str] | tuple[str, ...], strict: bool = True) -> list[tuple[str, int, int]]:
    """(type, first word, last word) of each entity in an IOB2 tag sequence.

    ``strict`` (what the runtime ships, and how ``adapt``/``evaluate`` score: seqeval's
    ``mode="strict", scheme=IOB2``): an entity starts at ``B-X`` and continues over ``I-X`` of the same
    type; an ``I-X`` that does not continue an ``X`` entity is dropped. Not strict: grouped as seqeval's
    ``get_entities`` (default mode) does, a stray ``I-X`` starts an entity. ``O`` and tags that are not
    ``B-``/``I-`` end an entity either way."""
    spans: list[tuple[str, int, int]] = []
    kind: str | None = None
    first = -1
    for i, tag in enumerate(tags):
        prefix, body = (tag[0], tag[2:]) if len(tag) > 2 and tag[1] == "-" and tag[0] in "BI" else ("O", "")
        if prefix == "I" and kind == body:
            continue
        if kind is not None:
            spans.append((kind, first, i - 1))
        starts = prefix == "B" or (prefix == "I" and not strict)
        kind, first = (body, i) if starts else (None, -1)
    if kind is not None:
        spans.append((kind, first, len(tags) - 1))
    return spans
