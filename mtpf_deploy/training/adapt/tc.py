"""``adapt tc``: mean-pooled embeddings (optionally with a TC LoRA active) -> logistic regression,
MTEB protocol (``n_experiments`` runs on ``samples_per_label`` undersampled train sets, max_iter 100).
``finetune=True`` trains a LoRA + linear head with cross-entropy instead."""
from __future__ import annotations

import json
import random
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
from peft import PeftModel, get_peft_model
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from tqdm.auto import tqdm

from ...backbones import resolve_backbone
from ...data.tokenization import load_tokenizer, special_ids, truncated_rows
from ...data.types import LabeledText
from ...errors import MtpfError
from ...formats.adapter_dir import AdapterDir, read_adapter_dir, write_adapter_dir
from ...formats.atomic import atomic_dir
from ...formats.hashing import backbone_weights_sha256
from ..encoder import load_encoder, lora_config, mean_pool
from ..features import pad_batch, text_batches
from ..metrics import tc_metrics
from ..subsets import report_unseen_labels, subsample
from .calibration import calibration_report, expected_calibration_error, fit_temperature
from .config import TcAdaptConfig
from .recipe import load_head, lora_parameters, warmup_then_joint


class SequenceClassifier(torch.nn.Module):
    """Encoder (with LoRA) -> mean pooling (optionally L2-normalised) -> linear head."""

    def __init__(self, encoder: torch.nn.Module, num_labels: int, normalize: bool):
        super().__init__()
        self.encoder = encoder
        self.normalize = normalize
        self.head = torch.nn.Linear(encoder.config.hidden_size, num_labels)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = mean_pool(hidden, attention_mask)
        return torch.nn.functional.normalize(pooled, dim=-1) if self.normalize else pooled

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(input_ids, attention_mask))


def embed_texts(encoder: torch.nn.Module, tok, texts: list[str], max_length: int, batch_size: int,
                normalize: bool, device: str = "cpu", desc: str = "embedding") -> np.ndarray:
    """Mean-pooled (optionally normalised) embeddings of ``texts`` as float32 [N, H]."""
    encoder.eval()
    out = []
    with torch.no_grad():
        for b in tqdm(text_batches(tok, texts, max_length, batch_size), desc=desc, leave=False, unit="batch"):
            mask = b["attention_mask"].to(device)
            hidden = encoder(input_ids=b["input_ids"].to(device), attention_mask=mask).last_hidden_state
            pooled = mean_pool(hidden, mask)
            if normalize:
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out.append(pooled.cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def _undersample(y: np.ndarray, per_label: int, rng: np.random.Generator) -> np.ndarray:
    """Indices with at most ``per_label`` examples of each label (MTEB's undersampling)."""
    idx = rng.permutation(len(y))
    counts: dict = {}
    keep = []
    for i in idx:
        if counts.get(y[i], 0) < per_label:
            counts[y[i]] = counts.get(y[i], 0) + 1
            keep.append(i)
    return np.array(sorted(keep))


def _fit(x: np.ndarray, y: np.ndarray, max_iter: int, seed: int) -> LogisticRegression:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(max_iter=max_iter, random_state=seed).fit(x, y)


def logreg_head(clf: LogisticRegression, labels: list[str]) -> dict[str, np.ndarray]:
    """A softmax head [C, H] equivalent to the fitted classifier, rows in ``labels`` order.

    Binary logistic regression (one weight row) becomes two rows ``-w/2, +w/2`` so the softmax
    equals the sigmoid."""
    coef, bias = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:
        coef = np.concatenate([-coef / 2, coef / 2])
        bias = np.concatenate([-bias / 2, bias / 2])
    order = [list(clf.classes_).index(l) for l in labels]
    return {"weight": coef[order].astype(np.float32), "bias": bias[order].astype(np.float32)}


def encoder_with_adapter(cfg: TcAdaptConfig, backbone_dir: Path) -> torch.nn.Module:
    """The encoder with ``cfg.embed_adapter``'s LoRA active (the backbone alone when there is none)."""
    encoder = load_encoder(backbone_dir, cfg.device)
    if cfg.embed_adapter:
        if read_adapter_dir(cfg.embed_adapter).lora_config is None:  # also validates the folder
            raise MtpfError(f"--embed-adapter {cfg.embed_adapter} holds no LoRA (adapter_config.json + adapter_model.safetensors)")
        encoder = PeftModel.from_pretrained(encoder, cfg.embed_adapter)
    return encoder


def adapt_tc(cfg: TcAdaptConfig, splits: dict[str, list[LabeledText]], out: str | Path,
             overwrite: bool = False, log=print) -> dict:
    """Fit the classifier, evaluate, and write the adapter folder; returns the metrics."""
    torch.manual_seed(cfg.seed)
    backbone_dir = resolve_backbone(cfg.backbone)
    tok = load_tokenizer(backbone_dir)
    train = subsample(splits["train"], cfg.train_fraction, cfg.seed)
    labels = sorted({x.label for x in train})
    if len(labels) < 2:
        raise MtpfError(f"the train split has only {len(labels)} distinct label(s); need at least 2")
    report_unseen_labels({s: [x.label for x in v] for s, v in splits.items()}, set(labels), log)
    encoder = encoder_with_adapter(cfg, backbone_dir)
    metrics: dict = {"train_examples": len(train), "labels": len(labels)}
    if cfg.finetune:
        model, head = _finetune(cfg, encoder, tok, train, labels, metrics)
        encoder = model.encoder
    else:
        head = _logreg(cfg, encoder, tok, train, labels, splits, metrics, log)
        model = SequenceClassifier(encoder, len(labels), cfg.normalize)
        load_head(model.head, head)
    for split in ("dev", "test"):
        if split in splits:
            probs = predict_proba(model, tok, [x.text for x in splits[split]], cfg.max_length, cfg.batch_size,
                                  cfg.device)
            gold = [x.label for x in splits[split]]
            metrics[split] = tc_metrics(gold, [labels[i] for i in probs.argmax(1)])
            seen = np.array([g in labels for g in gold])
            if seen.any():  # calibration of the shipped probabilities (labels the head knows)
                metrics[split]["ece"] = expected_calibration_error(
                    probs[seen], np.array([labels.index(g) for g, s in zip(gold, seen) if s]))
            log(f"{split}: accuracy {metrics[split]['accuracy']:.4f}, macro-F1 {metrics[split]['f1_macro']:.4f}, "
                f"ECE {metrics[split].get('ece', float('nan')):.3f} ({metrics[split]['examples']} examples)")
    with atomic_dir(out, overwrite) as tmp:
        if cfg.finetune:
            encoder.save_pretrained(tmp)
        elif cfg.embed_adapter:
            for name in ("adapter_config.json", "adapter_model.safetensors"):
                shutil.copy(Path(cfg.embed_adapter) / name, tmp / name)
        write_adapter_dir(tmp, AdapterDir(
            task="tc", labels=labels, head=head, head_kind="linear" if cfg.finetune else "logistic-regression",
            pooling="mean", normalize=model.normalize, max_length=cfg.max_length,
            backbone={"name": str(cfg.backbone), "weights_sha256": backbone_weights_sha256(backbone_dir)},
            card=cfg.card_fields(),
        ))
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        (tmp / "config.json").write_text(json.dumps({"command": "adapt tc", **cfg.to_dict()}, indent=2) + "\n")
    return metrics


def mteb_samples(y: np.ndarray, per_label: int, n_experiments: int, seed: int) -> list[np.ndarray]:
    """The MTEB protocol's undersampled train index sets (each keeps every label: at most ``per_label`` of
    each; sets with fewer than 2 labels are dropped)."""
    rng = np.random.default_rng(seed)
    runs = [_undersample(y, per_label, rng) for _ in range(n_experiments)]
    return [idx for idx in runs if len(set(y[idx])) >= 2]


def mteb_protocol(x: np.ndarray, y: np.ndarray, ex: np.ndarray, ey: list[str], per_label: int, n_experiments: int,
                  max_iter: int, seed: int) -> dict:
    """Mean (and std) accuracy / macro-F1 of logistic regressions fitted on ``mteb_samples`` of (x, y) and
    scored on (ex, ey). Only the rows of ``x`` those samples pick are read."""
    runs = [tc_metrics(ey, list(_fit(x[idx], y[idx], max_iter, seed + i).predict(ex)))
            for i, idx in enumerate(tqdm(mteb_samples(y, per_label, n_experiments, seed), desc="MTEB experiments",
                                         leave=False))]
    if not runs:
        raise MtpfError("MTEB protocol: no undersampled train set holds 2 labels")
    return {"n_experiments": len(runs), "samples_per_label": per_label,
            **{k: float(np.mean([r[k] for r in runs])) for k in ("accuracy", "f1_macro")},
            **{f"{k}_std": float(np.std([r[k] for r in runs])) for k in ("accuracy", "f1_macro")}}


def _logreg(cfg, encoder, tok, train, labels, splits, metrics, log) -> dict[str, np.ndarray]:
    """MTEB protocol metrics (mean over experiments) + the shipped head fitted on all of train."""
    x = embed_texts(encoder, tok, [t.text for t in train], cfg.max_length, cfg.batch_size, cfg.normalize,
                    cfg.device, "embedding train")
    y = np.array([t.label for t in train])
    eval_split = "test" if "test" in splits else ("dev" if "dev" in splits else None)
    if eval_split and cfg.n_experiments > 0 and cfg.per_label:
        ex = embed_texts(encoder, tok, [t.text for t in splits[eval_split]], cfg.max_length, cfg.batch_size,
                         cfg.normalize, cfg.device, f"embedding {eval_split}")
        ey = [t.label for t in splits[eval_split]]
        metrics["mteb_protocol"] = {"split": eval_split, **mteb_protocol(
            x, y, ex, ey, cfg.per_label, cfg.n_experiments, cfg.max_iter, cfg.seed)}
        log(f"MTEB protocol on {eval_split} ({metrics['mteb_protocol']['n_experiments']} x {cfg.per_label}/label): "
            f"accuracy {metrics['mteb_protocol']['accuracy']:.4f}, macro-F1 {metrics['mteb_protocol']['f1_macro']:.4f}")
    head = logreg_head(_fit(x, y, cfg.max_iter, cfg.seed), labels)
    if cfg.calibrate == "temperature":
        head = _temperature_scaled(cfg, encoder, tok, x, y, labels, splits, head, metrics, log)
    return head


def _temperature_scaled(cfg, encoder, tok, x, y, labels, splits, head, metrics, log) -> dict[str, np.ndarray]:
    """``head`` with its logits divided by the temperature fitted on dev, or on 20 % of train held out
    (a head fitted on the other 80 % gives those logits). The argmax, hence accuracy, is unchanged."""
    index = {label: i for i, label in enumerate(labels)}
    if "dev" in splits:
        dev = [t for t in splits["dev"] if t.label in index]
        cx = embed_texts(encoder, tok, [t.text for t in dev], cfg.max_length, cfg.batch_size, cfg.normalize,
                         cfg.device, "embedding dev")
        cy, source, scored = np.array([index[t.label] for t in dev]), "dev", head
    else:
        held = np.random.default_rng(cfg.seed).permutation(len(y))[: max(1, len(y) // 5)]
        rest = np.setdiff1d(np.arange(len(y)), held)
        if len(set(y[rest])) < 2 or len(held) < 2:
            log("calibration skipped: too few training examples to hold 20 % out")
            return head
        cx, cy, source = x[held], np.array([index[label] for label in y[held]]), "20% of train held out"
        scored = logreg_head(_fit(x[rest], y[rest], cfg.max_iter, cfg.seed), labels)
    logits = cx @ scored["weight"].T + scored["bias"]
    temperature = fit_temperature(logits, cy)
    metrics["calibration"] = {"method": "temperature", "fitted_on": source, "examples": len(cy),
                              "temperature": temperature, **calibration_report(logits, cy, temperature)}
    c = metrics["calibration"]
    log(f"calibration on {source}: temperature {temperature:.3f}, ECE {c['uncalibrated']['ece']:.3f} -> "
        f"{c['calibrated']['ece']:.3f}, mean top probability {c['uncalibrated']['mean_top_probability']:.2f} -> "
        f"{c['calibrated']['mean_top_probability']:.2f}")
    return {"weight": (head["weight"] / temperature).astype(np.float32), "bias": (head["bias"] / temperature).astype(np.float32)}


def _finetune(cfg, encoder, tok, train, labels, metrics) -> tuple[SequenceClassifier, dict[str, np.ndarray]]:
    if isinstance(encoder, PeftModel):
        for n, p in encoder.named_parameters():
            p.requires_grad_("lora_" in n)
        peft_model = encoder
    else:
        peft_model = get_peft_model(encoder, lora_config(cfg.lora_r, cfg.lora_alpha, cfg.lora_targets, None, cfg.lora_dropout))
    model = SequenceClassifier(peft_model, len(labels), normalize=False).to(cfg.device)
    label2id = {l: i for i, l in enumerate(labels)}
    _, _, pad = special_ids(tok)
    rows, _ = truncated_rows(tok, [t.text for t in train], cfg.max_length)
    ys = torch.tensor([label2id[t.label] for t in train])
    loss_f = torch.nn.CrossEntropyLoss()
    rng = random.Random(cfg.seed)

    def make_batch(idx):
        b = pad_batch([rows[i] for i in idx], pad)
        b["labels"] = ys[idx]
        return b

    def loss_fn(b):
        return loss_f(model(b["input_ids"].to(cfg.device), b["attention_mask"].to(cfg.device)), b["labels"].to(cfg.device))

    model.train()
    metrics["warmup_loss"], metrics["joint_loss"] = warmup_then_joint(
        model.head, lora_parameters(model), len(rows), (make_batch, loss_fn), (make_batch, loss_fn), cfg,
        cfg.warmup_epochs, cfg.epochs, rng)
    model.eval()
    head = {"weight": model.head.weight.detach().cpu().numpy(), "bias": model.head.bias.detach().cpu().numpy()}
    return model, head


def predict_proba(model: SequenceClassifier, tok, texts: list[str], max_length: int, batch_size: int = 64,
                  device: str = "cpu") -> np.ndarray:
    """Softmax probabilities [N, C] (PyTorch reference for the runtime)."""
    model.eval()
    out = []
    with torch.no_grad():
        for b in text_batches(tok, texts, max_length, batch_size):
            out.append(torch.softmax(model(b["input_ids"].to(device), b["attention_mask"].to(device)), -1).cpu().numpy())
    return np.concatenate(out)


def predict_labels(model, tok, texts, labels, max_length, batch_size=64, device="cpu") -> list[str]:
    return [labels[i] for i in predict_proba(model, tok, texts, max_length, batch_size, device).argmax(1)]


def load_tc_classifier(backbone: str | Path, adapter_dir: str | Path, device: str = "cpu") -> tuple[SequenceClassifier, list[str]]:
    """Rebuild the classifier (PyTorch reference) from a backbone and an ``adapt tc`` folder."""
    adapter = read_adapter_dir(adapter_dir)
    if adapter.task != "tc" or adapter.head is None:
        raise MtpfError(f"{adapter_dir}: not a TC adapter (task {adapter.task!r})")
    encoder = load_encoder(backbone, device)
    if adapter.lora_config is not None:
        encoder = PeftModel.from_pretrained(encoder, str(adapter_dir))
    model = SequenceClassifier(encoder, len(adapter.labels), adapter.normalize).to(device)
    load_head(model.head, adapter.head)
    model.eval()
    return model, adapter.labels
