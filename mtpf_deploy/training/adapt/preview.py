"""Printing a few predictions of a saved adapter (reloaded from disk, so the files are exercised),
truncated at the adapter's own max length, as the runtime does."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ...backbones import resolve_backbone
from ...data.bio import bio_entity_spans
from ...data.tokenization import load_tokenizer
from ...data.types import LabeledText, TaggedSentence
from ...formats.adapter_dir import read_adapter_dir


def render_entities(words, tags) -> str:
    out = list(words)
    for kind, first, last in reversed(bio_entity_spans(tags)):
        out[first : last + 1] = [f"[{' '.join(words[first : last + 1])}]({kind})"]
    return " ".join(out)


def preview_ner(backbone: str, adapter: str | Path, sentences: list[TaggedSentence], device: str,
                log: Callable[[str], None]) -> None:
    from ..features import token_features
    from .ner import load_ner_tagger, predict_tags

    model, labels = load_ner_tagger(backbone, adapter, device)
    tok = load_tokenizer(resolve_backbone(backbone))
    feats = token_features(tok, sentences, {l: i for i, l in enumerate(labels)}, read_adapter_dir(adapter).max_length)
    for s, pred in zip(sentences, predict_tags(model, tok, feats, labels, device=device)):
        log(f"  gold: {render_entities(s.words, s.tags)}")
        log(f"  pred: {render_entities(s.words, pred)}")


def preview_tc(backbone: str, adapter: str | Path, examples: list[LabeledText], device: str,
               log: Callable[[str], None]) -> None:
    from .tc import load_tc_classifier, predict_proba

    model, labels = load_tc_classifier(backbone, adapter, device)
    tok = load_tokenizer(resolve_backbone(backbone))
    probs = predict_proba(model, tok, [x.text for x in examples], read_adapter_dir(adapter).max_length)
    for x, p in zip(examples, probs):
        log(f"  {x.text[:70]!r}: gold {x.label}, pred {labels[p.argmax()]} ({p.max():.2f})")
