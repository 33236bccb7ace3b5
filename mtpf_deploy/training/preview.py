"""Printing a few predictions of a saved adapter (reloaded from disk, so the files are exercised)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..data.align import load_tokenizer
from ..data.types import LabeledText, TaggedSentence
from ..backbones import resolve_backbone


def bio_spans(words: list[str] | tuple[str, ...], tags: list[str]) -> list[tuple[int, int, str]]:
    """(first word, last word + 1, type) of each entity in an IOB2 tag sequence (lenient: I- after O starts one)."""
    spans, start, kind = [], None, None
    for i, t in enumerate(list(tags) + ["O"]):
        if t == "O" or t.startswith("B-") or (t.startswith("I-") and t[2:] != kind):
            if start is not None:
                spans.append((start, i, kind))
            start, kind = (i, t[2:]) if t != "O" else (None, None)
    return spans


def render_entities(words, tags) -> str:
    out = list(words)
    for s, e, kind in reversed(bio_spans(words, tags)):
        out[s:e] = [f"[{' '.join(words[s:e])}]({kind})"]
    return " ".join(out)


def preview_ner(backbone: str, adapter: str | Path, sentences: list[TaggedSentence], device: str,
                log: Callable[[str], None]) -> None:
    from .adapt_ner import load_ner_tagger, predict_tags
    from .features import token_features

    model, labels = load_ner_tagger(backbone, adapter, device)
    tok = load_tokenizer(resolve_backbone(backbone))
    feats = token_features(tok, sentences, {l: i for i, l in enumerate(labels)}, 512)
    for s, pred in zip(sentences, predict_tags(model, tok, feats, labels, device=device)):
        log(f"  gold: {render_entities(s.words, s.tags)}")
        log(f"  pred: {render_entities(s.words, pred)}")


def preview_tc(backbone: str, adapter: str | Path, examples: list[LabeledText], device: str,
               log: Callable[[str], None]) -> None:
    from .adapt_tc import load_tc_classifier, predict_proba

    model, labels = load_tc_classifier(backbone, adapter, device)
    tok = load_tokenizer(resolve_backbone(backbone))
    probs = predict_proba(model, tok, [x.text for x in examples], 512)
    for x, p in zip(examples, probs):
        log(f"  {x.text[:70]!r}: gold {x.label}, pred {labels[p.argmax()]} ({p.max():.2f})")
