"""``adapt ner``: LoRA (r=32, alpha=64 on query/key/MLP of all layers) + linear token head, head
warm-up with the encoder frozen, then joint training (paper App. A)."""
from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from peft import PeftModel, get_peft_model
from tokenizers import Tokenizer
from tqdm.auto import tqdm

from ...backbones import resolve_backbone
from ...data.bio import bio_label_list, entity_types
from ...data.tokenization import IGNORE_INDEX, load_tokenizer, special_ids
from ...data.types import TaggedSentence
from ...errors import MtpfError
from ...formats.adapter_dir import AdapterDir, read_adapter_dir, write_adapter_dir
from ...formats.atomic import atomic_dir
from ...formats.hashing import backbone_weights_sha256
from ..encoder import load_encoder, lora_config
from ..features import TokenFeature, pad_batch, token_features
from ..metrics import ner_metrics
from ..subsets import report_unseen_labels, subsample
from .config import NerAdaptConfig
from .init_lora import init_lora_from
from .recipe import load_head, lora_parameters, warmup_then_joint


class TokenTagger(torch.nn.Module):
    """Encoder (with LoRA) + dropout + linear head over tags."""

    def __init__(self, encoder: torch.nn.Module, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(dropout)
        hidden = encoder.config.hidden_size
        self.head = torch.nn.Linear(hidden, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(self.dropout(hidden))


def cache_hidden(encoder: torch.nn.Module, feats: list[TokenFeature], pad: int, device: str,
                 batch_size: int = 128) -> list[torch.Tensor]:
    """Last hidden states [len_i, H] of every feature (eval mode, no grad), kept on the CPU."""
    encoder.eval()
    out: list[torch.Tensor] = [torch.empty(0)] * len(feats)
    order = sorted(range(len(feats)), key=lambda i: len(feats[i].input_ids))
    with torch.no_grad():
        for k in tqdm(range(0, len(order), batch_size), desc="encoding for warm-up", unit="batch", leave=False):
            idx = order[k : k + batch_size]
            b = pad_batch([feats[i].input_ids for i in idx], pad)
            h = encoder(input_ids=b["input_ids"].to(device), attention_mask=b["attention_mask"].to(device))
            for j, i in enumerate(idx):
                out[i] = h.last_hidden_state[j, : len(feats[i].input_ids)].cpu()
    return out


def predict_tags(
    model: TokenTagger, tok: Tokenizer, feats: list[TokenFeature], id2label: list[str],
    batch_size: int = 128, device: str = "cpu",
) -> list[list[str]]:
    """Word-level tags (first sub-word's argmax; words cut off by truncation get ``O``)."""
    _, _, pad = special_ids(tok)
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(feats), batch_size):
            chunk = feats[i : i + batch_size]
            batch = pad_batch([f.input_ids for f in chunk], pad)
            logits = model(batch["input_ids"].to(device), batch["attention_mask"].to(device))
            best = logits.argmax(-1).cpu().numpy()
            for row, f in zip(best, chunk):
                tags = ["O"] * len(f.encoding.word_spans)
                for t, w in f.encoding.first_subwords(f.n_content):
                    tags[w] = id2label[int(row[t + 1])]
                out.append(tags)
    return out


def evaluate(model: TokenTagger, tok: Tokenizer, sentences: list[TaggedSentence], id2label: list[str],
             max_length: int, device: str = "cpu") -> dict:
    feats = token_features(tok, sentences, {l: i for i, l in enumerate(id2label)}, max_length)
    pred = predict_tags(model, tok, feats, id2label, device=device)
    return ner_metrics([list(s.tags) for s in sentences], pred)


def adapt_ner(cfg: NerAdaptConfig, splits: dict[str, list[TaggedSentence]], out: str | Path,
              overwrite: bool = False, log=print) -> dict:
    """Train and write the adapter folder; returns the metrics."""
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    backbone_dir = resolve_backbone(cfg.backbone)
    tok = load_tokenizer(backbone_dir)
    train = subsample(splits["train"], cfg.train_fraction, cfg.seed)
    labels = bio_label_list(entity_types(train))
    if len(labels) < 3:
        raise MtpfError(f"the train split ({len(train)} sentences) holds no entity: an NER adapter would tag every "
                        "word O (raise --train-fraction, or check the file's tags)")
    report_unseen_labels({s: [t for x in v for t in x.tags] for s, v in splits.items()}, set(labels), log)
    label2id = {l: i for i, l in enumerate(labels)}

    encoder = load_encoder(backbone_dir, cfg.device)
    peft_model = get_peft_model(encoder, lora_config(cfg.lora_r, cfg.lora_alpha, cfg.lora_targets, None, cfg.lora_dropout))
    weights_sha = backbone_weights_sha256(backbone_dir)
    if cfg.init_adapter:
        for line in init_lora_from(peft_model, cfg.init_adapter).lines(f"--init-adapter {cfg.init_adapter}"):
            log(line)
        task_json = Path(cfg.init_adapter) / "task.json"
        source_sha = read_adapter_dir(cfg.init_adapter).backbone.get("weights_sha256") if task_json.exists() else None
        if source_sha and source_sha != weights_sha:
            log(f"warning: --init-adapter {cfg.init_adapter} was trained with backbone weights {source_sha[:12]}…, "
                f"not those of {cfg.backbone} ({weights_sha[:12]}…); pass the run's backbone/ as --backbone")
    model = TokenTagger(peft_model, len(labels)).to(cfg.device)

    feats = token_features(tok, train, label2id, cfg.max_length)
    _, _, pad = special_ids(tok)
    loss_f = torch.nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX)

    def make_batch(idx: list[int]) -> dict:
        return pad_batch([feats[i].input_ids for i in idx], pad, [feats[i].labels for i in idx])

    def loss_fn(b: dict) -> torch.Tensor:
        logits = model(b["input_ids"].to(cfg.device), b["attention_mask"].to(cfg.device))
        return loss_f(logits.flatten(0, 1), b["labels"].to(cfg.device).flatten())

    for p in model.parameters():
        p.requires_grad_(False)
    # Warm-up: the encoder is frozen, so its outputs are computed once (eval mode) and reused each epoch.
    hidden = cache_hidden(model.encoder, feats, pad, cfg.device) if cfg.warmup_epochs > 0 else []
    model.train()

    def warm_batch(idx: list[int]) -> dict:
        h = torch.nn.utils.rnn.pad_sequence([hidden[i] for i in idx], batch_first=True)
        b = pad_batch([feats[i].input_ids for i in idx], pad, [feats[i].labels for i in idx])
        return {"hidden": h, "labels": b["labels"]}

    def warm_loss(b: dict) -> torch.Tensor:
        logits = model.head(model.dropout(b["hidden"].to(cfg.device)))
        return loss_f(logits.flatten(0, 1), b["labels"].to(cfg.device).flatten())

    warm, joint = warmup_then_joint(model.head, lora_parameters(model), len(feats), (warm_batch, warm_loss),
                                    (make_batch, loss_fn), cfg, cfg.warmup_epochs, cfg.epochs, rng)
    hidden.clear()  # free the cached encoder outputs
    metrics: dict = {"train_sentences": len(train), "warmup_loss": warm, "joint_loss": joint}
    for split in ("dev", "test"):
        if split in splits:
            metrics[split] = evaluate(model, tok, splits[split], labels, cfg.max_length, cfg.device)
            log(f"{split}: entity F1 {metrics[split]['f1']:.4f} (P {metrics[split]['precision']:.4f} "
                f"R {metrics[split]['recall']:.4f}, {metrics[split]['sentences']} sentences)")
    with atomic_dir(out, overwrite) as tmp:
        peft_model.save_pretrained(tmp)
        write_adapter_dir(tmp, AdapterDir(
            task="ner", labels=labels, head_kind="linear",
            head={"weight": model.head.weight.detach().cpu().numpy(), "bias": model.head.bias.detach().cpu().numpy()},
            max_length=cfg.max_length,
            backbone={"name": str(cfg.backbone), "weights_sha256": weights_sha},
            card=cfg.card_fields(),
        ))
        if cfg.shipped_metric:
            shipped_metrics(cfg.backbone, tmp, splits, metrics, log)
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        (tmp / "config.json").write_text(json.dumps({"command": "adapt ner", **cfg.to_dict()}, indent=2) + "\n")
    return metrics


def shipped_metrics(backbone: str, adapter: Path, splits: dict, metrics: dict, log: Callable[[str], None]) -> None:
    """Add to ``metrics[split]["shipped"]`` the entity scores of what an app gets: the adapter in an fp32
    bundle, ``SystemModel.entities`` on each sentence (words joined by spaces), exact type + character
    span matches (``evaluation/shipped.py``); beside seqeval's token-level F1."""
    import importlib.util

    if any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxscript")):
        log("shipped metric skipped: scoring the runtime's entities needs the export install (onnx, onnxscript)")
        return
    from ...evaluation.shipped import shipped_ner_scores
    from ...export.write_bundle import export_bundle
    from ...runtime import SystemModel

    with tempfile.TemporaryDirectory(prefix=".shipped-", dir=adapter.parent) as tmp:
        bundle = Path(tmp) / "bundle"
        export_bundle(backbone, {"ner": adapter}, bundle, precision="fp32", slot_layouts=[], log=lambda m: None)
        system = SystemModel.load(bundle, threads=1)
        for split in ("dev", "test"):
            if split in metrics:
                got = shipped_ner_scores(system, "ner", splits[split], f"runtime entities ({split})")
                metrics[split]["shipped"] = {k: got[k] for k in ("f1", "precision", "recall", "gold", "predicted")}
                log(f"{split}: entity F1 of the runtime's entities {got['f1']:.4f} (P {got['precision']:.4f} "
                    f"R {got['recall']:.4f}; seqeval {metrics[split]['f1']:.4f})")


def load_ner_tagger(backbone: str | Path, adapter_dir: str | Path, device: str = "cpu") -> tuple[TokenTagger, list[str]]:
    """Rebuild the trained tagger (PyTorch reference) from a backbone and an ``adapt ner`` folder."""
    adapter = read_adapter_dir(adapter_dir)
    if adapter.task != "ner" or adapter.head is None:
        raise MtpfError(f"{adapter_dir}: not an NER adapter (task {adapter.task!r})")
    encoder = load_encoder(backbone, device)
    peft_model = PeftModel.from_pretrained(encoder, str(adapter_dir))
    model = TokenTagger(peft_model, len(adapter.labels)).to(device)
    load_head(model.head, adapter.head)
    model.eval()
    return model, adapter.labels
