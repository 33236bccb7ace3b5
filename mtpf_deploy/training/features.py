"""Turning records into padded model inputs."""
from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from tokenizers import Tokenizer

from ..data.tokenization import IGNORE_INDEX, WordEncoding, content_window, encode_words, special_ids, truncated_rows
from ..data.types import TaggedSentence


@dataclass
class TokenFeature:
    """One sentence ready for the token tagger (truncated to ``max_length``)."""

    input_ids: list[int]
    labels: list[int]  # IGNORE_INDEX except on first sub-words
    encoding: WordEncoding  # for mapping predictions back to words
    n_content: int  # sub-words kept after truncation


def token_features(
    tok: Tokenizer, sentences: list[TaggedSentence], label2id: dict[str, int], max_length: int
) -> list[TokenFeature]:
    """Encode sentences; a tag unknown to ``label2id`` (seen only in dev/test) is ignored in the loss."""
    cls, sep, _ = special_ids(tok)
    out = []
    for s in sentences:
        enc = encode_words(tok, s.words)
        keep = content_window(max_length)
        word_labels = [label2id.get(t, IGNORE_INDEX) for t in s.tags]
        labels = enc.first_subword_labels(word_labels)[:keep]
        ids = enc.ids[:keep]
        out.append(TokenFeature([cls, *ids, sep], [IGNORE_INDEX, *labels, IGNORE_INDEX], enc, len(ids)))
    return out


def text_batches(tok: Tokenizer, texts: list[str], max_length: int, batch_size: int) -> list[dict]:
    """Padded batches of raw texts (truncated), in order."""
    _, _, pad = special_ids(tok)
    rows, _ = truncated_rows(tok, texts, max_length)
    return [pad_batch(rows[i : i + batch_size], pad) for i in range(0, len(rows), batch_size)]


def pad_batch(rows: list[list[int]], pad: int, labels: list[list[int]] | None = None) -> dict:
    """Right-pad id rows (and label rows with IGNORE_INDEX) into tensors."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if labels is not None:
        lab = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        for i, r in enumerate(labels):
            lab[i, : len(r)] = torch.tensor(r)
        batch["labels"] = lab
    return batch


def shuffled_batches(n: int, batch_size: int, rng: random.Random) -> list[list[int]]:
    """Index batches of a seeded permutation of ``range(n)``."""
    order = list(range(n))
    rng.shuffle(order)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]
