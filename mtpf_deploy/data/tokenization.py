"""Tokenizer helpers (torch-free: the runtime uses them too): loading, special ids, truncated rows,
windows, and word -> sub-word alignment with character offsets into the original text. Words are
joined with single spaces to form the text the tokenizer sees, so every sub-word maps back to exactly
one word and one character span."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from ..errors import MtpfError

IGNORE_INDEX = -100


def load_tokenizer(model_dir: str | Path) -> Tokenizer:
    """Load ``model_dir/tokenizer.json`` (see ``tokenizer_from_file``)."""
    return tokenizer_from_file(Path(model_dir) / "tokenizer.json")


def tokenizer_from_file(path: str | Path) -> Tokenizer:
    """Load a tokenizers JSON file with its own truncation/padding switched off (we window ourselves)."""
    path = Path(path)
    if not path.is_file():
        raise MtpfError(f"{path}: no tokenizer file (a fast tokenizer.json is required)")
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises its own exception type
        raise MtpfError(f"{path}: not a valid tokenizer.json ({exc})") from None
    tok.no_truncation()
    tok.no_padding()
    return tok


def special_ids(tok: Tokenizer) -> tuple[int, int, int]:
    """(cls, sep, pad) ids of a BERT-style tokenizer."""
    ids = [tok.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]")]
    if any(i is None for i in ids):
        raise MtpfError("tokenizer lacks [CLS]/[SEP]/[PAD]; only BERT-style WordPiece tokenizers are supported")
    return ids[0], ids[1], ids[2]


@dataclass(frozen=True)
class WordEncoding:
    """Sub-words of one sentence (no special tokens) and where they come from."""

    text: str
    ids: list[int]
    offsets: list[tuple[int, int]]  # char span of each sub-word in ``text``
    word_index: list[int]  # word of each sub-word (-1 when it belongs to none)
    word_spans: list[tuple[int, int]]  # char span of each word in ``text``

    def first_subwords(self, limit: int | None = None) -> list[tuple[int, int]]:
        """(sub-word position, word) of each word's first sub-word, among the first ``limit`` sub-words."""
        out, seen = [], set()
        for t, w in enumerate(self.word_index[:limit]):
            if w >= 0 and w not in seen:
                seen.add(w)
                out.append((t, w))
        return out

    def first_subword_labels(self, word_labels: list[int]) -> list[int]:
        """Label on the first sub-word of each word, ``IGNORE_INDEX`` elsewhere."""
        out = [IGNORE_INDEX] * len(self.word_index)
        for t, w in self.first_subwords():
            out[t] = word_labels[w]
        return out


def words_to_text(words: list[str] | tuple[str, ...]) -> tuple[str, list[tuple[int, int]]]:
    """Join words with single spaces; return the text and each word's (start, end) span."""
    spans, pos = [], 0
    for w in words:
        spans.append((pos, pos + len(w)))
        pos += len(w) + 1
    return " ".join(words), spans


def encode_words(tok: Tokenizer, words: list[str] | tuple[str, ...]) -> WordEncoding:
    """Tokenize pre-split words; every sub-word is assigned to the word its first character lies in."""
    text, spans = words_to_text(words)
    return encode_text_with_spans(tok, text, spans)


def encode_text_with_spans(tok: Tokenizer, text: str, spans: list[tuple[int, int]]) -> WordEncoding:
    """Tokenize ``text`` and map sub-words to the given word spans (character offsets into ``text``)."""
    enc = tok.encode(text, add_special_tokens=False)
    owner = [-1] * (len(text) + 1)
    for i, (s, e) in enumerate(spans):
        for c in range(s, e):
            owner[c] = i
    word_index = [owner[s] if s < len(text) else -1 for s, _ in enc.offsets]
    return WordEncoding(text, list(enc.ids), [tuple(o) for o in enc.offsets], word_index, list(spans))


# Unicode White_Space (the Kotlin core's WordPieceTokenizer.isWhitespace: the same set)
_WHITESPACE = frozenset([*range(9, 14), 32, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000])
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF),
        (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))  # BERT's "Chinese character" blocks


def _is_cjk(ch: str) -> bool:
    return any(lo <= ord(ch) <= hi for lo, hi in _CJK)


def _pretokenizer_words(enc) -> dict[int, list[int]]:
    """The tokenizer's pre-tokenizer words (whitespace and punctuation split) by id: their char spans."""
    pieces: dict[int, list[int]] = {}
    for wid, (s, e) in zip(enc.word_ids, enc.offsets):
        if wid is not None:
            span = pieces.setdefault(wid, [s, e])
            span[0], span[1] = min(span[0], s), max(span[1], e)
    return pieces


def encode_pretokenized(tok: Tokenizer, text: str) -> WordEncoding:
    """Tokenize raw text; words are the tokenizer's pre-tokenizer words ("paris." is "paris" and "."):
    how pseudo-labelling cuts raw sentences into CoNLL-style training words."""
    enc = tok.encode(text, add_special_tokens=False)
    pieces = _pretokenizer_words(enc)
    order = {w: i for i, w in enumerate(sorted(pieces))}
    return WordEncoding(text, list(enc.ids), [tuple(o) for o in enc.offsets],
                        [order[w] if w is not None else -1 for w in enc.word_ids],
                        [(pieces[w][0], pieces[w][1]) for w in sorted(pieces)])


def encode_text(tok: Tokenizer, text: str) -> WordEncoding:
    """Tokenize raw text. A word is a run of characters without whitespace, as in the whitespace-split
    words ``adapt ner`` trains on (``encode_words``): "O'Neil", "ex-England" and "U.S." are one word
    each, so the runtime reads a text's words where training put the labels. Each CJK ideograph is a
    word of its own (such text has no spaces; BERT's rule). The Kotlin core splits words the same way."""
    enc = tok.encode(text, add_special_tokens=False)
    pieces = _pretokenizer_words(enc)
    group_of: dict[int, int] = {}
    spans: list[list[int]] = []
    last_cjk = False
    for wid in sorted(pieces):
        s, e = pieces[wid]
        cjk = e - s == 1 and _is_cjk(text[s])
        if spans and not cjk and not last_cjk and not any(ord(c) in _WHITESPACE for c in text[spans[-1][1] : s]):
            spans[-1][1] = max(spans[-1][1], e)
        else:
            spans.append([s, e])
        group_of[wid] = len(spans) - 1
        last_cjk = cjk
    return WordEncoding(
        text,
        list(enc.ids),
        [tuple(o) for o in enc.offsets],
        [group_of[w] if w is not None else -1 for w in enc.word_ids],
        [(s, e) for s, e in spans],
    )


SPECIAL_TOKENS = 2  # [CLS] and [SEP] around every row


def content_window(max_length: int) -> int:
    """How many of a text's sub-words fit in a row of ``max_length`` tokens (the rest is [CLS] + [SEP])."""
    return max_length - SPECIAL_TOKENS


def truncated_rows(tok: Tokenizer, texts: list[str], max_length: int) -> tuple[list[list[int]], list[int]]:
    """``[CLS] ids[:content_window] [SEP]`` per text, and each text's full sub-word count (to flag truncation)."""
    cls, sep, _ = special_ids(tok)
    rows, lengths = [], []
    window = content_window(max_length)
    for enc in tok.encode_batch(list(texts), add_special_tokens=False):
        lengths.append(len(enc.ids))
        rows.append([cls, *enc.ids[:window], sep])
    return rows, lengths


def windows(n_tokens: int, window: int, stride: int) -> list[tuple[int, int]]:
    """Overlapping [start, end) windows of at most ``window`` tokens (a ``content_window``), advancing by ``stride``."""
    if window <= 0 or stride <= 0:
        raise ValueError(f"window and stride must be positive, not {window} and {stride}")
    if n_tokens <= window:
        return [(0, n_tokens)]
    out, start = [], 0
    while True:
        end = min(start + window, n_tokens)
        out.append((start, end))
        if end == n_tokens:
            return out
        start += stride
