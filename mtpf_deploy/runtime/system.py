"""``SystemModel``: the backbone loaded once in one ONNX Runtime session; adapters applied per call."""
from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..data.tokenization import encode_text, special_ids, tokenizer_from_file, truncated_rows, windows
from ..errors import MtpfError
from ..formats.adapter_file import AdapterFile, read_adapter_file
from ..formats.bundle import read_bundle_manifest
from ..formats.hashing import sha256_file
from .ner_decode import best_window_per_token, decode_entities, word_predictions
from .results import Classification, Entity


@dataclass
class Adapter:
    """An app's adapter, loaded and verified against the system backbone."""

    name: str
    task: str
    labels: list[str]
    max_length: int
    normalize: bool
    weight: np.ndarray | None  # head [C, H]
    bias: np.ndarray | None
    lora: ort.LoraAdapter | None = field(repr=False, default=None)
    manifest: dict = field(repr=False, default_factory=dict)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


class SystemModel:
    """One backbone session shared by every adapter; thread-safe for concurrent callers."""

    def __init__(self, folder: Path, manifest: dict, session: ort.InferenceSession):
        self.folder = folder
        self.manifest = manifest
        self.backbone = manifest["backbone"]
        self.session = session
        self.tokenizer = tokenizer_from_file(folder / manifest["tokenizer"])
        self.cls_id, self.sep_id, self.pad_id = special_ids(self.tokenizer)
        self.max_length = int(self.backbone["max_length"])
        self._slots = {n for s in self.backbone["slots"] for n in (s["a"], s["b"])}
        self.adapters: dict[str, Adapter] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, bundle: str | Path, threads: int | None = None, verify: bool = True) -> SystemModel:
        """Load a bundle folder: manifest, backbone session (``threads`` intra-op threads), tokenizer."""
        folder = Path(bundle)
        manifest = read_bundle_manifest(folder)
        model = folder / manifest["backbone"]["file"]
        if not model.is_file():
            raise MtpfError(f"bundle {folder}: backbone file {model.name} is missing")
        if verify and sha256_file(model) != manifest["backbone"]["sha256"]:
            raise MtpfError(f"bundle {folder}: {model.name} does not match the sha256 in its manifest "
                            f"(expected {manifest['backbone']['sha256']}, file is corrupt or was replaced)")
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # slot defaults are graph inputs by design; skip ORT's warning about it
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for invalid models
            raise MtpfError(f"bundle {folder}: {model.name} cannot be loaded by ONNX Runtime ({exc})") from None
        return cls(folder, manifest, session)

    def load_adapter(self, path_or_name: str | Path, name: str | None = None) -> Adapter:
        """Load an adapter file (or a name listed in the bundle); verifies version and backbone hash."""
        listed = self.manifest.get("adapters", {})
        path = self.folder / listed[str(path_or_name)] if str(path_or_name) in listed else Path(path_or_name)
        if not path.exists() and str(path_or_name) not in listed:
            raise MtpfError(f"adapter {path_or_name!r}: no such file and no adapter of that name in the bundle "
                            f"(has {', '.join(sorted(listed)) or 'none'})")
        af = read_adapter_file(path)
        want = self.backbone["weights_sha256"]
        if af.backbone_sha256 != want:
            raise MtpfError(f"adapter {path} was made for backbone {af.backbone_sha256}, "
                            f"but this system runs backbone {want}")
        adapter = self._build(af, name or af.name)
        with self._lock:
            self.adapters[adapter.name] = adapter
        return adapter

    def _build(self, af: AdapterFile, name: str) -> Adapter:
        lora = None
        if af.lora_bytes is not None:
            unknown = set(af.manifest.get("lora", {}).get("slots", [])) - self._slots
            if unknown:
                raise MtpfError(f"adapter {af.path}: LoRA slots {sorted(unknown)[:3]} do not exist in this backbone")
            lora = _load_ort_adapter(af.lora_bytes, af.path)
        weight = bias = None
        if af.head is not None:
            weight, bias = af.head["weight"].astype(np.float32), af.head["bias"].astype(np.float32)
            if weight.shape[1] != self.backbone["hidden_size"]:
                raise MtpfError(f"adapter {af.path}: head width {weight.shape[1]} != hidden size "
                                f"{self.backbone['hidden_size']}")
        m = af.manifest
        return Adapter(name, m["task"], list(m.get("labels", [])), min(int(m.get("max_length", 512)),
                       self.max_length), bool(m.get("normalize", False)), weight, bias, lora, m)

    def _adapter(self, adapter: Adapter | str | None) -> Adapter | None:
        if adapter is None or isinstance(adapter, Adapter):
            return adapter
        if adapter not in self.adapters:
            return self.load_adapter(adapter)
        return self.adapters[adapter]

    # ------------------------------------------------------------------ core
    def run_ids(self, rows: list[list[int]], adapter: Adapter | str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Padded forward pass of id rows; returns hidden states [B, S, H] and the mask [B, S]."""
        adapter = self._adapter(adapter)
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        options = ort.RunOptions()
        if adapter is not None and adapter.lora is not None:
            options.add_active_adapter(adapter.lora)
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask}, options)[0]
        return hidden, mask

    def _batched(self, rows: list[list[int]], adapter: Adapter | None, batch_size: int):
        """Yield (row index, hidden [len, H]) for every row, batching rows of similar length."""
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        for k in range(0, len(order), batch_size):
            idx = order[k : k + batch_size]
            hidden, _ = self.run_ids([rows[i] for i in idx], adapter)
            for j, i in enumerate(idx):
                yield i, hidden[j, : len(rows[i])]

    def _truncated_rows(self, texts: list[str], max_length: int) -> tuple[list[list[int]], list[int]]:
        return truncated_rows(self.tokenizer, texts, max_length)

    # ------------------------------------------------------------------ tasks
    def embed(self, texts: list[str], adapter: Adapter | str | None = None, normalize: bool = True,
              batch_size: int = 32) -> np.ndarray:
        """Mean-pooled embeddings [N, H] (with the adapter's LoRA active, if any); long texts truncate."""
        adapter = self._adapter(adapter)
        return self._mean_pooled(texts, adapter, normalize, batch_size)[0]

    def _mean_pooled(self, texts: list[str], adapter: Adapter | None, normalize: bool,
                     batch_size: int) -> tuple[np.ndarray, list[int]]:
        """Mean-pooled [N, H] (optionally L2-normalised) and each text's full sub-word count."""
        rows, lengths = self._truncated_rows(texts, adapter.max_length if adapter else self.max_length)
        out = np.zeros((len(rows), self.backbone["hidden_size"]), dtype=np.float32)
        for i, h in self._batched(rows, adapter, batch_size):
            out[i] = h.mean(0)
        if normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out, lengths

    def classify(self, texts: list[str], adapter: Adapter | str, batch_size: int = 32) -> list[Classification]:
        """Label + probabilities per text; ``truncated`` says when a text exceeded the max length."""
        adapter, weight, bias = self._require(adapter, "tc")
        pooled, lengths = self._mean_pooled(texts, adapter, adapter.normalize, batch_size)
        probs = _softmax(pooled @ weight.T + bias)
        return [Classification(adapter.labels[int(p.argmax())], float(p.max()),
                               {l: float(v) for l, v in zip(adapter.labels, p)},
                               truncated=n > adapter.max_length - 2, tokens=n)
                for p, n in zip(probs, lengths)]

    def entities(self, texts: list[str], adapter: Adapter | str, batch_size: int = 32,
                 stride: int | None = None) -> list[list[Entity]]:
        """Entities per text with exact character offsets; long texts run in overlapping windows."""
        adapter, weight, bias = self._require(adapter, "ner")
        size = adapter.max_length - 2
        stride = stride or max(1, size // 2)
        encs = [encode_text(self.tokenizer, t) for t in texts]
        rows, owners = [], []  # one row per window
        spans_of: list[list[tuple[int, int]]] = []
        for n, enc in enumerate(encs):
            spans = windows(len(enc.ids), size, stride) if enc.ids else []
            spans_of.append(spans)
            for s, e in spans:
                rows.append([self.cls_id, *enc.ids[s:e], self.sep_id])
                owners.append(n)
        logits_of: dict[int, np.ndarray] = {}
        for i, h in self._batched(rows, adapter, batch_size):
            logits_of[i] = h[1:-1] @ weight.T + bias
        out: list[list[Entity]] = []
        row = 0
        for text, enc, spans in zip(texts, encs, spans_of):
            if not spans:
                out.append([])
                continue
            pick = best_window_per_token(len(enc.ids), spans)
            logits = np.stack([logits_of[row + w][p] for w, p in pick])
            row += len(spans)
            words = word_predictions(enc, _softmax(logits))
            out.append(decode_entities(text, enc, words, adapter.labels))
        return out

    def _require(self, adapter: Adapter | str, task: str) -> tuple[Adapter, np.ndarray, np.ndarray]:
        """The adapter and its head, which must be of ``task``."""
        found = self._adapter(adapter)
        if found is None or found.task != task or found.weight is None or found.bias is None:
            got = None if found is None else found.task
            raise MtpfError(f"adapter {getattr(found, 'name', None)!r} is a {got} adapter; this call needs a {task} adapter")
        return found, found.weight, found.bias


def _load_ort_adapter(data: bytes, source: Path) -> ort.LoraAdapter:
    """``onnxruntime.LoraAdapter`` loads from a path only: write the member to a private temp file,
    memory-map it, then unlink it (POSIX keeps the mapping alive)."""
    fd, tmp = tempfile.mkstemp(suffix=".onnx_adapter", prefix="mtpf-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        adapter = ort.LoraAdapter()
        try:
            adapter.Load(tmp)
        except Exception as exc:  # onnxruntime's own error type
            raise MtpfError(f"adapter {source}: LoRA part rejected by ONNX Runtime ({exc})") from None
        return adapter
    finally:
        try:
            os.unlink(tmp)
        except OSError:  # pragma: no cover - Windows keeps mapped files open
            pass
