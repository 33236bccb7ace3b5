"""``mtpf-deploy analyze``: the paper's Sec. 5 interference measurements for several models.

Finding 1: cosine similarity between a CoNLL-2003 test sentence's embedding (mean-pooled, normalised)
and those of its entity-swapped variants — NER pre-finetuning pushes it up (sentences that differ only
in their entities look alike). Finding 2: mean pairwise cosine of the token embeddings inside a
sentence — contrastive TC pre-finetuning pushes it up (tokens collapse toward the sentence meaning).
One JSON per model in ``OUT/models/`` (a re-run skips finished models), ``analysis.json`` and two PNGs."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..backbones import resolve_backbone
from ..data.tokenization import load_tokenizer
from ..data.types import TaggedSentence
from ..errors import MtpfError
from ..formats.atomic import atomic_file
from ..formats.hashing import backbone_weights_sha256
from .evaluate import Model
from .perturb import perturbation_set

SCHEMA = "mtpf-analyze/1"


def _encoder(model: Model, adapter: str, device: str) -> torch.nn.Module:
    from peft import PeftModel

    from ..training.encoder import load_encoder

    encoder = load_encoder(resolve_backbone(model.backbone), device)
    lora = {"none": None, "tc": model.tc_lora, "ner": model.ner_lora}[adapter]
    if adapter != "none" and lora is None:
        raise MtpfError(f"--adapter {adapter}: model {model.run or model.backbone} has no {adapter} task-primary LoRA")
    return PeftModel.from_pretrained(encoder, lora) if lora else encoder


def token_states(encoder: torch.nn.Module, tok, texts: list[str], max_length: int, batch_size: int,
                 device: str, desc: str) -> list[np.ndarray]:
    """Per text: last hidden states [T, H] of its sub-words, special tokens ([CLS], [SEP]) left out."""
    from ..training.features import text_batches

    encoder.eval()
    out = []
    with torch.no_grad():
        for b in tqdm(text_batches(tok, texts, max_length, batch_size), desc=desc, leave=False, unit="batch"):
            hidden = encoder(input_ids=b["input_ids"].to(device), attention_mask=b["attention_mask"].to(device)).last_hidden_state
            for h, n in zip(hidden.cpu().numpy(), b["attention_mask"].sum(1).tolist()):
                out.append(h[1 : n - 1])
    return out


def mean_pairwise_cosine(states: np.ndarray) -> float | None:
    """Mean cosine over distinct token pairs of one sentence (None below 2 tokens)."""
    if len(states) < 2:
        return None
    unit = states / np.linalg.norm(states, axis=1, keepdims=True).clip(1e-12)
    sims = unit @ unit.T
    n = len(unit)
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def analyze_model(model: Model, pairs: list, adapter: str, max_length: int, batch_size: int, device: str) -> dict:
    from ..training.adapt.tc import embed_texts

    encoder = _encoder(model, adapter, device)
    tok = load_tokenizer(resolve_backbone(model.backbone))
    originals = [" ".join(o.words) for o, _ in pairs]
    variants = [[" ".join(v.words) for v in vs] for _, vs in pairs]
    flat = [t for vs in variants for t in vs]
    emb = embed_texts(encoder, tok, originals + flat, max_length, batch_size, True, device, "sentence embeddings")
    orig, pert = emb[: len(originals)], emb[len(originals):].reshape(len(originals), -1, emb.shape[1])
    cos = np.einsum("nh,nvh->nv", orig, pert).ravel()
    states = token_states(encoder, tok, originals, max_length, batch_size, device, "token states")
    token_cos = np.array([c for c in (mean_pairwise_cosine(s) for s in states) if c is not None])
    return {
        "perturbation_similarity": {"mean": float(cos.mean()), "std": float(cos.std()), "pairs": int(cos.size),
                                    "histogram": np.histogram(cos, bins=20, range=(-1, 1))[0].tolist()},
        "token_similarity": {"mean": float(token_cos.mean()), "std": float(token_cos.std()),
                             "sentences": int(token_cos.size)},
    }


def analyze(models: dict[str, Model], sentences: list[TaggedSentence], out: Path, n_sentences: int = 2000,
            variants: int = 4, seed: int = 0, adapter: str = "none", max_length: int = 128, batch_size: int = 64,
            device: str = "cpu", log: Callable[[str], None] = print) -> dict:
    out = Path(out)
    pairs = perturbation_set(sentences, n_sentences, variants, seed)
    if not pairs:
        raise MtpfError("no sentence with an entity to perturb")
    settings = {"sentences": len(pairs), "variants": variants, "seed": seed, "adapter": adapter,
                "max_length": max_length}
    (out / "models").mkdir(parents=True, exist_ok=True)
    results = {}
    for name, model in tqdm(models.items(), desc="analyze", unit="model"):
        cache = out / "models" / f"{name}.json"
        sha = backbone_weights_sha256(resolve_backbone(model.backbone))
        if cache.exists():
            saved = json.loads(cache.read_text())
            if saved.get("settings") == settings and saved.get("backbone_sha256") == sha:
                results[name] = saved
                continue
        record = {"model": model.run or model.backbone, "backbone_sha256": sha, "settings": settings,
                  **analyze_model(model, pairs, adapter, max_length, batch_size, device)}
        with atomic_file(cache) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
        results[name] = record
        log(f"{name}: perturbation cosine {record['perturbation_similarity']['mean']:.4f}, "
            f"token cosine {record['token_similarity']['mean']:.4f}")
    summary = {"schema": SCHEMA, "settings": settings, "models": results,
               "example": {"original": " ".join(pairs[0][0].words), "perturbed": [" ".join(v.words) for v in pairs[0][1]]}}
    with atomic_file(out / "analysis.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    plot(summary, out)
    return summary


def plot(summary: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary["models"])
    files = []
    for key, title, ylabel, name in (
            ("perturbation_similarity", "Finding 1: original vs entity-swapped sentence",
             "mean cosine (sentence embeddings)", "perturbation_similarity.png"),
            ("token_similarity", "Finding 2: token embeddings within a sentence", "mean pairwise cosine",
             "token_similarity.png")):
        means = [summary["models"][n][key]["mean"] for n in names]
        stds = [summary["models"][n][key]["std"] for n in names]
        fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(names) + 1), 3.6))
        ax.bar(range(len(names)), means, yerr=stds, capsize=4, color="#4c72b0")
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        for i, m in enumerate(means):
            ax.text(i, m, f"{m:.3f}", ha="center", va="bottom", fontsize=8)
        fig.tight_layout()
        with atomic_file(out / name) as tmp:
            fig.savefig(tmp, format="png", dpi=120)
        plt.close(fig)
        files.append(name)
    return files
