"""``SystemModel``: the backbone loaded once (one engine: ONNX Runtime or ExecuTorch); adapters applied per call.

Trust model: the bundle comes from the system vendor, adapters and texts come from apps. An adapter
is validated completely when it is loaded (``formats/adapter_file.py``: structure, schema, hashes,
tensor names / shapes / dtypes / finiteness, fit to this backbone), so a call with an accepted adapter
cannot fail because of the adapter. Its LoRA tensors are the engine's per-call inputs (no temporary
files, nothing shared between callers).

This file is the core (bundle, adapters, batching, pooling); each group of task kinds is a module of
``runtime/tasks/``, and the methods here that serve them only check types and delegate."""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

import numpy as np

from ..data.tokenization import content_window, special_ids, tokenizer_from_file, truncated_rows
from ..errors import AdapterError, BundleError, InputError, MtpfError
from ..formats.adapter_file import AdapterFile, check_adapter_name, read_adapter_bytes, read_adapter_file
from ..formats.bundle import bundle_path, read_bundle_manifest, sentence_embedding_of
from ..formats.signature import Signature, read_signature_file
from ..formats.tasks import task_spec
from ..formats.trust import FILE as TRUST_FILE
from ..formats.trust import TrustPolicy, read_trust_policy
from .batching import PADDING_RATIO, MixedBatcher, route
from .engines import Engine, load_engine
from .inputs import as_texts, positive_int
from .pooling import pool
from .results import Classification, Entity, NonFiniteOutput, check_finite
from .tasks import classification, ner
from .tasks import pairs as pair_tasks


@dataclass
class Adapter:
    """An app's adapter, loaded and verified against the system backbone."""

    name: str
    task: str
    labels: list[str]
    max_length: int  # what calls use: the adapter's max length, at most the backbone's (``manifest`` keeps the asked one)
    normalize: bool
    weight: np.ndarray | None  # head [C, H]
    bias: np.ndarray | None
    pooling: str = "mean"  # how a tc head's input is pooled: "mean", or "cls" (through ``pooler``)
    pooler: tuple[np.ndarray, np.ndarray] | None = field(repr=False, default=None)  # BERT's pooler W_p [H, H], b_p [H]
    manifest: dict = field(repr=False, default_factory=dict)
    digest: str = ""  # ``AdapterFile.digest``: the same adapter may be loaded again under its name
    feed: object = field(repr=False, default=None)  # the LoRA as the engine's per-call input
    unloaded: bool = False  # set by ``SystemModel.unload_adapter``
    signature: Signature | None = field(repr=False, default=None)  # verified under the trust policy (None: unsigned)


# what an adapter is probed with when it loads: no token, one, and (cut to the adapter's window) a full window
PROBE_TEXTS = ("", "a", " ".join(["The quick brown fox, 12 km from Zürich, jumps over the lazy dog."] * 48))


def effective_max_length(adapter: int, backbone: int) -> int:
    """The window an adapter's calls use: its own max length, cut to what the backbone takes (``inspect
    --bundle`` says when that happens)."""
    return min(adapter, backbone)




MAX_MIXED_REQUESTS = 256  # run_mixed runs each request in a thread of its own


class SystemModel:
    """One backbone engine shared by every adapter; thread-safe for concurrent callers."""

    def __init__(self, folder: Path, manifest: dict, engine: Engine, trust: TrustPolicy | None = None):
        self.folder = folder
        self.manifest = manifest
        self.backbone = manifest["backbone"]
        self.engine = engine
        self.backend = engine.backend
        self.tokenizer = tokenizer_from_file(bundle_path(folder, manifest["tokenizer"], f"bundle {folder}: tokenizer"))
        self.cls_id, self.sep_id, self.pad_id = special_ids(self.tokenizer)
        self.max_length = int(self.backbone["max_length"])
        self.sentence_embedding = sentence_embedding_of(manifest)
        self.adapters: dict[str, Adapter] = {}
        self.trust = trust  # None: development mode (no signature needed)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, bundle: str | Path, threads: int | None = None, verify: bool = True,
             backend: str = "onnx", spin: bool = True, trust: str | Path | TrustPolicy | None = None,
             layouts: bool = True) -> SystemModel:
        """Load a bundle folder: manifest, tokenizer and the backbone of ``backend`` (``onnx``, or
        ``executorch`` for a bundle exported with it) with ``threads`` intra-op threads. ``verify``
        checks the backbone files' sha256 and that the backbone accepts ``max_length`` tokens. ``spin``
        (ONNX): idle worker threads spin-wait for the next op, which is faster but keeps cores busy;
        ``False`` saves power and leaves the cores to other work. ``trust``: a trust policy (file or
        ``TrustPolicy``) every adapter must satisfy; by default the bundle's own ``trust.json`` if it ships
        one, else none (development mode: any well-formed adapter for this backbone loads). ``layouts``
        (ONNX): run each adapter on the bundle's smallest slot layout holding it (a session per layout in
        use; faster calls, and less memory than the full graph's one session: docs/benchmarks.md);
        ``False``: the full graph only, one session (as bundles without layouts)."""
        folder = Path(bundle)
        manifest = read_bundle_manifest(folder)
        if threads is not None:
            positive_int(threads, "threads")
        if trust is None and (folder / TRUST_FILE).is_file():
            trust = folder / TRUST_FILE
        policy = trust if isinstance(trust, TrustPolicy) or trust is None else read_trust_policy(trust)
        system = cls(folder, manifest, load_engine(backend, folder, manifest, threads, verify, spin, layouts), policy)
        if verify:
            system._probe()
        return system

    def _probe(self) -> None:
        """One forward pass of ``max_length`` tokens: a manifest promising more positions than the graph
        has fails here, at load, rather than on the first long text."""
        row = [self.cls_id] + [self.pad_id] * content_window(self.max_length) + [self.sep_id]
        ids = np.array([row], dtype=np.int64)
        try:  # and give the arena memory of this longest input back: a loaded bundle stays small
            hidden = self.engine.run_and_release(ids, np.ones_like(ids), self.engine.no_adapter)
        except Exception as exc:  # the engines' own error types
            raise BundleError(f"bundle {self.folder}: backbone.max_length {self.max_length} is more than the "
                              f"backbone accepts ({str(exc)[:300]})") from None
        width = self.backbone["hidden_size"]
        if hidden.ndim != 3 or hidden.shape[-1] != width:
            raise BundleError(f"bundle {self.folder}: backbone.hidden_size is {width}, but the backbone's output is "
                              f"{list(hidden.shape)}")

    def load_adapter(self, path_or_name: str | Path, name: str | None = None, strict: bool = False,
                     merge: bool = False) -> Adapter:
        """Load and validate an adapter file (or a name listed in the bundle) and register it under
        ``name`` (default: its manifest name). A different adapter under a name already in use is refused.
        ``strict``: also refuse an adapter that changes nothing (``AdapterFile.inert_parts``).
        ``merge``: fold its LoRA into a copy of the weights it changes (ONNX; docs/benchmarks.md): calls
        as fast as a merged per-task model, for a load of tens of milliseconds and that copy's memory."""
        listed = self.manifest.get("adapters", {})
        if str(path_or_name) in listed:
            path = bundle_path(self.folder, listed[str(path_or_name)], f"bundle {self.folder}: adapters")
        else:
            path = Path(path_or_name)
            if not path.exists():
                raise AdapterError(f"adapter {path_or_name!r}: no such file and no adapter of that name in the bundle "
                                   f"(has {', '.join(sorted(listed)) or 'none'})")
        data = read_adapter_bytes(path)  # read once: what is verified is what is loaded
        # under a policy the signature is checked on the raw bytes before anything parses them
        signature = None if self.trust is None else \
            self.trust.verify_bytes(data, read_signature_file(path), f"adapter {path}")
        af = read_adapter_file(path, data)
        if self.trust is not None:
            self.trust.check_claims(signature, af.manifest, f"adapter {path}")
            af.signature = signature
        af.check_fits(self.backbone)
        inert = af.inert_parts() if strict else []
        if inert:
            raise AdapterError(f"adapter {path}: changes nothing: {'; '.join(inert)} (strict mode)")
        adapter = self._build(af, name or af.name, merge)
        self._probe_adapter(adapter, f"adapter {path}")
        with self._lock:
            loaded = self.adapters.get(adapter.name)
            if loaded is not None and loaded.digest != adapter.digest:
                raise AdapterError(f"adapter name {adapter.name!r} is already in use by another adapter; "
                                   "unload_adapter() it first or load this one with another name")
            self.adapters[adapter.name] = adapter
            self.engine.set_bank([a.feed for a in self.adapters.values()])
        return adapter

    def unload_adapter(self, name: str) -> None:
        """Forget adapter ``name``; an ``Adapter`` object of it is refused by later calls."""
        with self._lock:
            adapter = self.adapters.pop(name, None)
            if adapter is None:
                raise AdapterError(f"no adapter named {name!r} is loaded")
            adapter.unloaded = True
            self.engine.set_bank([a.feed for a in self.adapters.values()])

    def _build(self, af: AdapterFile, name: str, merge: bool = False) -> Adapter:
        check_adapter_name(name)
        weight = bias = pooler = None
        if af.head is not None:
            weight, bias = af.head["weight"], af.head["bias"]
            if "pooler_weight" in af.head:
                pooler = (af.head["pooler_weight"], af.head["pooler_bias"])
        return Adapter(name, af.task, list(af.labels), effective_max_length(af.max_length, self.max_length),
                       bool(af.manifest["normalize"]), weight, bias, af.manifest.get("pooling") or "mean", pooler,
                       af.manifest, af.digest,
                       (self.engine.merge if merge and af.lora else self.engine.prepare)(af.lora, f"adapter {af.path}"),
                       signature=af.signature)

    def _probe_adapter(self, adapter: Adapter, where: str) -> None:
        """Run the adapter's own task on probe inputs (empty, short, a full window): an adapter whose
        values are finite but so large that its outputs are not is refused here, at load, not on a call."""
        texts = list(PROBE_TEXTS)
        window = content_window(adapter.max_length)  # one window is enough: more windows re-run the same graph
        offsets = self.tokenizer.encode(texts[-1], add_special_tokens=False).offsets
        texts[-1] = texts[-1][: offsets[min(window, len(offsets)) - 1][1]]
        inputs: list = list(zip(texts, texts[::-1])) if task_spec(adapter.task).inputs == "pair" else texts
        try:
            self.predict(inputs, adapter)
        except NonFiniteOutput:
            raise AdapterError(f"{where}: gives non-finite outputs on probe texts (its LoRA or head values are too "
                               "large for this backbone)") from None

    def _adapter(self, adapter: Adapter | str | None) -> Adapter | None:
        if isinstance(adapter, Adapter) and adapter.unloaded:
            raise InputError(f"adapter {adapter.name!r} was unloaded; load it again")
        if adapter is None or isinstance(adapter, Adapter):
            return adapter
        if not isinstance(adapter, (str, Path)):
            raise InputError(f"adapter must be an Adapter, a name or a path, not {type(adapter).__name__}")
        if adapter not in self.adapters:
            return self.load_adapter(adapter)
        return self.adapters[adapter]

    # ------------------------------------------------------------------ core
    def run_ids(self, rows: list[list[int]], adapter: Adapter | str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Padded forward pass of id rows; returns hidden states [B, S, H] and the mask [B, S]. Each row's
        numbers are those of the row run alone (an engine whose rows share activation quantization runs
        them one by one; padded positions are zeros then)."""
        found = self._adapter(adapter)
        if (self.engine.rows_share_quantization or self.engine.max_batch == 1) and len(rows) > 1:
            return _padded([self.run_ids([r], found)[0][0] for r in rows])
        ids, mask = self._padded_ids(rows)
        width = ids.shape[1]
        try:
            hidden = self.engine.run(ids, mask, found.feed if found is not None else self.engine.no_adapter)
        except Exception as exc:  # the engines' own error types
            raise MtpfError(f"bundle {self.folder}: the backbone failed on a batch of {len(rows)} x {width} tokens "
                            f"({str(exc)[:300]})") from None
        check_finite(hidden, found)
        return hidden, mask

    def run_rows(self, rows: list[list[int]], adapters: list[Adapter | None]) -> tuple[np.ndarray, np.ndarray]:
        """``run_ids`` for rows of different adapters (row i with ``adapters[i]``, None: no adapter): one pass
        when the bundle takes a LoRA per row (``export --row-adapters``), else one per adapter."""
        if len(rows) != len(adapters):
            raise InputError(f"{len(rows)} rows but {len(adapters)} adapters")
        found = [self._adapter(a) for a in adapters]
        if len({id(a) for a in found}) == 1 or self.engine.rows_share_quantization or self.engine.max_batch == 1:
            if len({id(a) for a in found}) == 1:
                return self.run_ids(rows, found[0])
            singles = [self.run_ids([r], a)[0][0] for r, a in zip(rows, found)]
            return _padded(singles)
        ids, mask = self._padded_ids(rows)
        try:
            hidden = self.engine.run_rows(ids, mask, [a.feed if a is not None else self.engine.no_adapter for a in found])
        except Exception as exc:  # the engines' own error types
            raise MtpfError(f"bundle {self.folder}: the backbone failed on a mixed batch of {len(rows)} x "
                            f"{ids.shape[1]} tokens ({str(exc)[:300]})") from None
        for i, a in enumerate(found):
            check_finite(hidden[i], a)
        return hidden, mask

    def _padded_ids(self, rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        return ids, mask

    def run_mixed(self, requests: list[tuple[object, Adapter | str | None]], batch_size: int = 32) -> list:
        """Each request's result, as ``predict`` (or ``embed``, for no adapter) gives it for its inputs, with
        the rows of all requests run together across adapters (``runtime/batching.py``): one pass per
        batch of similar lengths when the bundle takes a LoRA per row (``export --row-adapters``)."""
        from concurrent.futures import ThreadPoolExecutor

        if len(requests) > MAX_MIXED_REQUESTS:
            raise InputError(f"{len(requests)} requests in one run_mixed call; at most {MAX_MIXED_REQUESTS}")
        jobs = [(inputs, self._adapter(adapter)) for inputs, adapter in requests]
        if not jobs:
            return []
        batcher = MixedBatcher(self, window_s=1.0, max_batch=positive_int(batch_size, "batch_size"))
        everyone = threading.Barrier(len(jobs))  # all attached before any submits: one flush takes every row

        def one(job: tuple[object, Adapter | None]):
            with batcher.attached():
                everyone.wait()
                inputs, adapter = job
                return self.embed(inputs) if adapter is None else self.predict(inputs, adapter)  # type: ignore[call-overload]

        try:
            with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
                return list(pool.map(one, jobs))
        finally:
            batcher.close()

    def batched(self, rows: list[list[int]], adapter: Adapter | None, batch_size: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (row index, hidden [len, H]) for every row, batching rows of similar length: a batch
        holds at most ``batch_size`` rows, and none longer than 1.25x its shortest (padding is work).
        In a thread attached to a ``MixedBatcher``, the rows go to it (batched with other callers')."""
        attached = route()
        if attached is not None and attached[0].system is self:
            yield from enumerate(attached[0].submit(rows, adapter, attached[1]))
            return
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        batches: list[list[int]] = []
        for i in order:
            last = batches[-1] if batches else None
            if last is None or len(last) == batch_size or len(rows[i]) > PADDING_RATIO * len(rows[last[0]]):
                batches.append([i])
            else:
                last.append(i)
        for idx in batches:
            hidden, _ = self.run_ids([rows[i] for i in idx], adapter)
            for j, i in enumerate(idx):
                yield i, hidden[j, : len(rows[i])]

    # ------------------------------------------------------------------ pooling (shared by the tasks)
    def pooled(self, texts: list[str], adapter: Adapter | None, normalize: bool, batch_size: int,
               pooling: str = "mean", max_length: int | None = None) -> tuple[np.ndarray, list[int]]:
        """Pooled [N, H] (``pooling``: ``runtime/pooling.py``; optionally L2-normalised) and each text's full
        sub-word count; texts truncate at ``max_length`` (default: the adapter's, else the backbone's)."""
        max_length = max_length or (adapter.max_length if adapter else self.max_length)
        rows, lengths = truncated_rows(self.tokenizer, texts, max_length)
        out = np.zeros((len(rows), self.backbone["hidden_size"]), dtype=np.float32)
        for i, h in self.batched(rows, adapter, batch_size):
            out[i] = pool(h, pooling)
        check_finite(out, adapter)
        if normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out, lengths

    def require(self, adapter: Adapter | str, task: str) -> tuple[Adapter, np.ndarray, np.ndarray]:
        """The adapter and its head, which must be of ``task``."""
        found = self._adapter(adapter)
        if found is None or found.task != task or found.weight is None or found.bias is None:
            got = None if found is None else found.task
            raise InputError(f"adapter {getattr(found, 'name', None)!r} is a {got} adapter; this call needs a {task} adapter")
        return found, found.weight, found.bias

    # ------------------------------------------------------------------ tasks
    def predict(self, inputs, adapter: Adapter | str, batch_size: int = 32):
        """Whatever the adapter's task returns for ``inputs`` (texts, or pairs for a pair task): dispatch
        by the task table (``formats/tasks.py``: ``TaskSpec.runtime``)."""
        found = self._adapter(adapter)
        if found is None:
            raise InputError("predict needs an adapter")
        method = getattr(self, task_spec(found.task).runtime)
        return method(inputs, found, batch_size=batch_size)

    @overload
    def embed(self, texts: str, adapter: Adapter | str | None = None, normalize: bool | None = None,
              batch_size: int = 32) -> np.ndarray: ...
    @overload
    def embed(self, texts: Iterable[str], adapter: Adapter | str | None = None, normalize: bool | None = None,
              batch_size: int = 32) -> np.ndarray: ...

    def embed(self, texts, adapter=None, normalize=None, batch_size=32):
        """Sentence embeddings [N, H] ([H] for one str), with the adapter's LoRA active, if any: pooled,
        normalised (``normalize=None``: as the bundle says) and truncated as the bundle's
        ``backbone.sentence_embedding`` says (a sentence-transformers backbone: as its own config does), an
        adapter's max length capping that."""
        items, single = as_texts(texts)
        found = self._adapter(adapter)
        se = self.sentence_embedding
        max_length = min(found.max_length, se["max_length"]) if found else se["max_length"]
        normalize = se["normalize"] if normalize is None else bool(normalize)
        pooled = self.pooled(items, found, normalize, positive_int(batch_size, "batch_size"), se["pooling"],
                             max_length)[0]
        return pooled[0] if single else pooled

    @overload
    def classify(  # type: ignore[overload-overlap]  # a str is one text, not an iterable of texts
        self, texts: str, adapter: Adapter | str, batch_size: int = 32) -> Classification: ...
    @overload
    def classify(self, texts: Iterable[str], adapter: Adapter | str, batch_size: int = 32) -> list[Classification]: ...

    def classify(self, texts, adapter, batch_size=32):
        """Label + probabilities per text (one result for one str); ``truncated`` says when a text
        exceeded the max length, ``empty`` when it had no token at all (the label is then the
        backbone's guess for an empty input). ``runtime/tasks/classification.py``."""
        return classification.classify(self, texts, adapter, batch_size)

    @overload
    def entities(  # type: ignore[overload-overlap]  # a str is one text, not an iterable of texts
        self, texts: str, adapter: Adapter | str, batch_size: int = 32, stride: int | None = None) -> list[Entity]: ...
    @overload
    def entities(self, texts: Iterable[str], adapter: Adapter | str, batch_size: int = 32,
                 stride: int | None = None) -> list[list[Entity]]: ...

    def entities(self, texts, adapter, batch_size=32, stride=None):
        """Entities per text (one list for one str) with exact character offsets covering whole
        characters (combining marks included); long texts run in overlapping windows of the adapter's
        max length, advancing by ``stride`` tokens (default: the window less an overlap of a quarter
        window, at most 32 tokens; at most a window). Each token is read in the window where it is
        most central. ``runtime/tasks/ner.py``."""
        return ner.entities(self, texts, adapter, batch_size, stride)

    def similarity(self, pairs, adapter: Adapter | str, batch_size: int = 32):
        """Similarity score of each (text_a, text_b) pair with an ``sts`` adapter: its head scales the cosine
        of the two mean-pooled embeddings (``5 * cos`` for ``adapt multitask``: STS-B's 0-5 scale). One
        float for one pair, else a list. ``runtime/tasks/pairs.py``."""
        return pair_tasks.similarity(self, pairs, adapter, batch_size)

    def classify_pairs(self, pairs, adapter: Adapter | str, batch_size: int = 32):
        """Label + probabilities of each (text_a, text_b) pair with a ``pair-tc`` adapter (e.g. paraphrase):
        head on [u, v, |u - v|, u * v] of the two mean-pooled embeddings. One result for one pair."""
        return pair_tasks.classify_pairs(self, pairs, adapter, batch_size)


def _padded(singles: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Rows' hidden states [len_i, H] as one zero-padded [B, S, H] and its mask."""
    width = max(len(h) for h in singles)
    hidden = np.zeros((len(singles), width, singles[0].shape[-1]), dtype=singles[0].dtype)
    mask = np.zeros((len(singles), width), dtype=np.int64)
    for i, h in enumerate(singles):
        hidden[i, : len(h)] = h
        mask[i, : len(h)] = 1
    return hidden, mask
