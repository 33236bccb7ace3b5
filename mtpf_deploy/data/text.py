"""Text/label files: CSV/TSV, ``label text`` lines, ``text;label``, ``text@label``, line-aligned
text + labels, JSONL, and a JSON dict of splits."""
from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import DataFormatError, MtpfError
from ..formats import strict_json
from .io import open_text, read_lines
from .types import LabeledText

FIELD_SIZE_LIMIT = 1 << 24  # long documents in one CSV field (csv's default is 128 KiB)


@contextmanager
def _long_csv_fields() -> Iterator[None]:
    """csv's process-wide field-size limit raised while one file is read, then restored."""
    saved = csv.field_size_limit(FIELD_SIZE_LIMIT)
    try:
        yield
    finally:
        csv.field_size_limit(saved)


def _column(header: list[str] | None, col: str | int, path: Path) -> int:
    if isinstance(col, int):
        return col
    if header is None:
        raise MtpfError(f"{path}: column {col!r} named but the file has no header")
    if col not in header:
        raise MtpfError(f"{path}: no column {col!r} in header {header}")
    return header.index(col)


def read_csv(
    path: str | Path,
    text: str | int | Sequence[str | int] = "text",
    label: str | int = "label",
    delimiter: str = ",",
    header: bool = True,
    label_names: dict[str, str] | None = None,
) -> list[LabeledText]:
    """Read a CSV/TSV file; ``text`` may name several columns, joined with a space (AG News title+body)."""
    path = Path(path)
    text_cols = [text] if isinstance(text, (str, int)) else list(text)
    out: list[LabeledText] = []
    try:
        with open_text(path) as handle, _long_csv_fields():
            reader = csv.reader(handle, delimiter=delimiter)
            head = next(reader, None) if header else None
            if header and head is None:
                return out
            tcols = [_column(head, c, path) for c in text_cols]
            lcol = _column(head, label, path)
            need = max(tcols + [lcol]) + 1
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) < need:
                    raise DataFormatError(path, reader.line_num, f"expected at least {need} fields, got {len(row)}")
                raw = row[lcol].strip()
                out.append(LabeledText(" ".join(row[c].strip() for c in tcols), _map(raw, label_names, path, reader.line_num)))
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, None, f"not valid UTF-8 ({exc.reason})") from None
    except csv.Error as exc:
        raise DataFormatError(path, None, f"malformed CSV ({exc})") from None
    return out


def _map(raw: str, names: dict[str, str] | None, path: Path | str, line: int) -> str:
    if names is None:
        return raw
    if raw not in names:
        raise DataFormatError(path, line, f"label {raw!r} is not one of {sorted(names)}")
    return names[raw]


def read_label_text(path: str | Path, label_names: dict[str, str] | None = None) -> list[LabeledText]:
    """``label<space>text`` lines (SST, TREC, MR)."""
    out = []
    for number, line in read_lines(path):
        if not line.strip():
            continue
        label, sep, text = line.strip().partition(" ")
        if not sep or not text.strip():
            raise DataFormatError(path, number, f"expected 'label text', got {line.strip()!r}")
        out.append(LabeledText(text.strip(), _map(label, label_names, path, number)))
    return out


def read_split_last(
    path: str | Path, separator: str, header: bool = False, label_names: dict[str, str] | None = None
) -> list[LabeledText]:
    """``text<sep>label`` lines split on the LAST separator (``;`` for Emotion, ``@`` for PhraseBank)."""
    out = []
    for number, line in read_lines(path):
        if header and number == 1:
            continue
        if not line.strip():
            continue
        text, sep, label = line.rpartition(separator)
        if not sep or not label.strip():
            raise DataFormatError(path, number, f"expected 'text{separator}label', got {line.strip()[:80]!r}")
        out.append(LabeledText(text.strip(), _map(label.strip(), label_names, path, number)))
    return out


def read_aligned(
    text_path: str | Path, labels_path: str | Path, label_names: dict[str, str] | None = None
) -> list[LabeledText]:
    """Line-aligned text and label files; empty text lines are kept (TweetEval has some)."""
    texts = list(read_lines(text_path))
    labels = list(read_lines(labels_path))
    # a trailing empty line in the labels file is not a label
    while labels and not labels[-1][1].strip() and len(labels) > len(texts):
        labels.pop()
    while texts and not texts[-1][1] and len(texts) > len(labels):
        texts.pop()
    if len(texts) != len(labels):
        raise DataFormatError(labels_path, None, f"has {len(labels)} labels but {text_path} has {len(texts)} lines")
    out = []
    for (_, text), (number, label) in zip(texts, labels):
        if not label.strip():
            raise DataFormatError(labels_path, number, "empty label")
        out.append(LabeledText(text.strip(), _map(label.strip(), label_names, labels_path, number)))
    return out


def read_jsonl(
    path: str | Path, text: str = "text", label: str = "label", label_names: dict[str, str] | None = None
) -> list[LabeledText]:
    """One JSON object per line with ``text`` and ``label`` fields."""
    out = []
    for number, line in read_lines(path):
        if not line.strip():
            continue
        try:
            record = strict_json.loads(line)
        except strict_json.StrictJSONError as exc:
            raise DataFormatError(path, number, f"invalid JSON ({exc})") from None
        if not isinstance(record, dict) or text not in record or label not in record:
            raise DataFormatError(path, number, f"expected an object with {text!r} and {label!r} fields")
        if not isinstance(record[text], str) or not isinstance(record[label], (str, int)) or isinstance(record[label], bool):
            raise DataFormatError(path, number, f"field {text!r} must be a string and {label!r} a string or an integer, "
                                                f"not {type(record[text]).__name__} / {type(record[label]).__name__}")
        out.append(LabeledText(str(record[text]), _map(str(record[label]), label_names, path, number)))
    return out


def read_json_splits(path: str | Path, split: str, text: str = "text", label: str = "label") -> list[LabeledText]:
    """A JSON object mapping split name to a list of ``{"text": …, "label": …}`` records."""
    try:
        with open_text(path) as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, exc.lineno, f"invalid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise DataFormatError(path, 1, "expected a JSON object mapping split names to lists of records")
    if split not in data:
        raise MtpfError(f"{path}: no split {split!r} (has {sorted(data)})")
    out = []
    for i, record in enumerate(data[split]):
        if not isinstance(record, dict) or text not in record or label not in record:
            raise DataFormatError(path, None, f"record {i} of split {split!r} lacks {text!r}/{label!r}")
        out.append(LabeledText(str(record[text]), str(record[label])))
    return out


def read_mapping(path: str | Path) -> dict[str, str]:
    """``id<TAB>name[<TAB>…]`` (TweetEval mapping.txt) or ``id: name`` (DBpedia meta.txt) lines."""
    names: dict[str, str] = {}
    for number, line in read_lines(path):
        if not line.strip():
            continue
        if "\t" in line:
            parts = line.split("\t")
            key, name = parts[0].strip(), parts[1].strip()
            if len(parts) > 2 and parts[2].strip():  # emoji mapping: id, emoji, name
                name = parts[2].strip()
        elif ":" in line:
            key, _, name = line.partition(":")
            key, name = key.strip(), name.strip()
        else:
            raise DataFormatError(path, number, f"expected 'id<TAB>name' or 'id: name', got {line!r}")
        names[key] = name
    return names
