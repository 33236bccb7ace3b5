"""The ONNX Runtime engine (numpy + onnxruntime, no torch): a session per slot layout the bundle has
(``backbone.layouts``: graphs with slots only where a kind of adapter lives, sharing backbone.onnx's
weights) and the full graph for any other adapter; an adapter's LoRA factors are fed as the slot
inputs of each call of the smallest layout that holds them."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ...errors import BundleError
from ...formats.bundle import BATCH_INDEPENDENT_SCALES, GRAPH_OPTIMIZATION_LEVELS, ONNXRUNTIME, onnxruntime_options, verified_file
from ...formats.lora_int8 import int8_feed, quantize_columns
from ...formats.lora_slots import ROWS_INPUT, Slot, smallest_layout
from .base import Engine

FULL = "all"  # the full graph's name among the layouts
RANK_BUCKET = 8  # a mixed batch's factors are padded to a multiple of this rank (fewer distinct shapes)


def session_options(threads: int | None, spin: bool = True, bundle: dict = ONNXRUNTIME) -> ort.SessionOptions:
    """The runtime's ONNX Runtime options: what the bundle's ``backbone.onnxruntime`` asks for
    (``formats/bundle.py``: session config entries, the log level), ``threads`` intra-op threads
    (None: ORT's default), one inter-op thread, no spin-waiting when ``spin`` is False."""
    opts = ort.SessionOptions()
    opts.log_severity_level = bundle["log_severity_level"]
    opts.graph_optimization_level = _LEVELS[bundle.get("graph_optimization_level", "all")]
    for key, value in bundle["session_config"].items():
        opts.add_session_config_entry(key, value)
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


_LEVELS = {"disable_all": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
           "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
assert set(_LEVELS) == set(GRAPH_OPTIMIZATION_LEVELS)


@dataclass(frozen=True)
class LayoutFeed:
    """A prepared adapter: the layout whose session runs it and that session's slot inputs, or (merged)
    a session of its own with the adapter folded into the weights and no slot inputs."""

    layout: str
    feed: dict[str, np.ndarray]
    session: ort.InferenceSession | None = None
    arrays: tuple = ()  # the merged weights (OrtValues) the session reads: ONNX Runtime does not copy them


class OnnxEngine(Engine):
    """ONNX Runtime sessions, one per slot layout in use (made when an adapter first needs it); an
    adapter's A/B are fed as the slot inputs of each call."""

    backend = "onnx"

    def __init__(self, folder: Path, manifest: dict, threads: int | None, verify: bool, spin: bool = True,
                 layouts: bool = True):
        self.where = f"bundle {folder}"
        bb = manifest["backbone"]
        self.folder, self.verify = folder, verify
        self.options_args = (threads, spin, onnxruntime_options(manifest))
        self.options = session_options(*self.options_args)
        self.slot_weights: dict[str, dict] = bb.get("slot_weights", {})
        # the layouts' external data lives in backbone.onnx: it is checked (and loaded) whatever runs
        full = verified_file(folder, bb["file"], bb["sha256"], "backbone file", verify)
        self.files = {FULL: (bb["file"], bb["sha256"])}
        self.layouts: dict[str, set[str]] = {}  # the layouts adapters run on (none: the full graph only)
        for name, layout in bb.get("layouts", {}).items():
            self.files[name] = (layout["file"], layout["sha256"])
            if layouts:
                self.layouts[name] = set(layout["slots"])
        self.sessions: dict[str, ort.InferenceSession] = {}
        self._lock = threading.Lock()
        self.int8_lora = bb.get("lora_precision") == "int8"
        # DynamicQuantizeLinear: one scale per tensor, unless the bundle quantizes activations per token
        self.rows_share_quantization = bb.get("precision") == "int8" and bb.get("activation_scales") not in BATCH_INDEPENDENT_SCALES
        self.row_adapters = bool(bb.get("row_adapters", False))  # stacked slot inputs picked per row
        self.slots = [Slot.from_json(s) for s in bb["slots"]]
        self._bank: tuple[dict[str, np.ndarray], dict[int, int], tuple] | None = None  # set_bank
        if not self.layouts:
            self._open(FULL, full)
        self.no_adapter = self.prepare({}, self.where)

    def _open(self, layout: str, path: Path, options: ort.SessionOptions | None = None) -> ort.InferenceSession:
        try:
            session = ort.InferenceSession(str(path), options or self.options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for invalid models
            raise BundleError(f"{self.where}: {path.name} cannot be loaded by ONNX Runtime ({exc})") from None
        if options is None:
            self.sessions[layout] = session
        return session

    def session(self, layout: str = FULL) -> ort.InferenceSession:
        """The session of ``layout``, opened (and its file checked) on first use."""
        found = self.sessions.get(layout)  # a call's path: no lock once the session exists
        if found is not None:
            return found
        with self._lock:
            found = self.sessions.get(layout)
            if found is None:
                rel, sha = self.files[layout]
                found = self._open(layout, verified_file(self.folder, rel, sha, f"backbone layout {layout}", self.verify))
            return found

    def layout_for(self, lora: dict[str, np.ndarray]) -> str:
        """The smallest layout holding every slot the adapter uses (a rank > 0), else the full graph."""
        used = {s.a_name for s in self.slots if s.a_name in lora and lora[s.a_name].shape[0] > 0}
        return smallest_layout(used, self.layouts) or FULL

    def prepare(self, lora: dict[str, np.ndarray], where: str) -> LayoutFeed:
        """The adapter's layout (its session opened now, not at the first call) and its slot inputs:
        fp32 factors as they are; for an int8-LoRA backbone, int8 per-column (``formats/lora_int8.py``)."""
        layout = self.layout_for(lora)
        slots = self.slots if layout == FULL else [s for s in self.slots if s.a_name in self.layouts[layout]]
        kept = {k: v for s in slots for k, v in lora.items() if k in (s.a_name, s.b_name)}
        self.session(layout)
        if self.row_adapters:  # a stack of one LoRA, which every row uses; rank-0 slots keep the graph's
            # default (a row-adapter graph is never fed rank 0: export/backends/onnx/graph.add_slot_defaults)
            used = {n for s in slots if s.a_name in kept and kept[s.a_name].shape[0] > 0 for n in (s.a_name, s.b_name)}
            kept = {k: v[None] for k, v in kept.items() if k in used}
        return LayoutFeed(layout, int8_feed(kept, slots) if self.int8_lora else kept)

    def merge(self, lora: dict[str, np.ndarray], where: str) -> LayoutFeed:
        """The adapter folded into the backbone's weights (``W += B A``, int8 weights re-quantized per
        column): a session of the slot-less graph of its own, as fast as a merged per-task model; it
        costs a session load and a copy of the weights the adapter changes."""
        layout = "none" if "none" in self.files else FULL
        used = [s for s in self.slots if s.a_name in lora and lora[s.a_name].shape[0] > 0]
        missing = [s.a_name for s in used if s.a_name not in self.slot_weights]
        if missing:
            raise BundleError(f"{self.where}: cannot merge {where}: the bundle does not say where the weights of "
                              f"{missing[0]} are (export it again with this version)")
        full = self.folder / self.files[FULL][0]
        options = session_options(*self.options_args)
        arrays = []
        with full.open("rb") as handle:
            for s in used:
                entry = self.slot_weights[s.a_name]
                weight = _read(handle, entry.get("weight") if isinstance(entry, dict) else None)
                delta = lora[s.a_name].T.astype(np.float32) @ lora[s.b_name].T.astype(np.float32)  # [in, out]
                if weight.shape != delta.shape:
                    raise BundleError(f"{self.where}: backbone.slot_weights gives {s.a_name} a weight of shape "
                                      f"{list(weight.shape)}, the slot is {list(delta.shape)} (in, out)")
                if entry["scale"] is None:
                    merged = {entry["weight"]["name"]: (weight + delta).astype(np.float32)}
                else:
                    dense = weight.astype(np.float32) * _read(handle, entry["scale"])[None, :] + delta
                    q, scale = quantize_columns(dense)
                    merged = {entry["weight"]["name"]: q, entry["scale"]["name"]: scale}
                for name, array in merged.items():
                    value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array))
                    arrays.append(value)  # the session reads this memory: it lives as long as the feed
                    options.add_initializer(name, value)
        rel, sha = self.files[layout]
        path = verified_file(self.folder, rel, sha, f"backbone layout {layout}", self.verify)
        return LayoutFeed(f"merged:{where}", {}, self._open(layout, path, options), tuple(arrays))

    def run(self, ids: np.ndarray, mask: np.ndarray, prepared: object) -> np.ndarray:
        assert isinstance(prepared, LayoutFeed)
        session = prepared.session or self.session(prepared.layout)
        return session.run(None, self.inputs(ids, mask, prepared.feed))[0]

    def inputs(self, ids: np.ndarray, mask: np.ndarray, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A run's inputs: ids, mask, slot factors, and for a row-adapter graph each row's LoRA (the first)."""
        out = {"input_ids": ids, "attention_mask": mask, **feed}
        if self.row_adapters and ROWS_INPUT not in out:
            out[ROWS_INPUT] = np.zeros(len(ids), np.int64)
        return out

    def set_bank(self, prepared: list) -> None:
        """The adapters mixed batches use (the loaded ones): each slot's factors of all of them stacked once,
        zero-padded to their largest rank (rounded up to ``RANK_BUCKET``), entry 0 zeros (no adapter), so
        that a mixed batch of them feeds these arrays as they are and only ``lora_rows`` changes per call
        (an S-LoRA-like adapter pool; rebuilt when an adapter loads or unloads)."""
        if not self.row_adapters or self.int8_lora:
            return
        entries = tuple(p for p in prepared if isinstance(p, LayoutFeed) and p.session is None)
        self._bank = (_stacked(self.slots, entries, leading_zeros=True),
                      {id(p): k + 1 for k, p in enumerate(entries)} | {id(self.no_adapter): 0}, entries)

    def run_rows(self, ids: np.ndarray, mask: np.ndarray, prepared: list) -> np.ndarray:
        """One run for rows of different adapters when the graph takes stacked LoRAs (``row_adapters``):
        the adapter pool's arrays (``set_bank``) when every row's adapter is in it, else each slot's factors
        of the batch's distinct adapters stacked, zero-padded to their largest rank
        rounded up to ``RANK_BUCKET`` (padding adds exact zeros; an adapter without the slot is zeros), and
        ``lora_rows`` naming each row's. Other bundles (and merged adapters, sessions of their own) run
        one adapter at a time."""
        feeds = [p for p in prepared if isinstance(p, LayoutFeed)]
        if not self.row_adapters or self.int8_lora or len(feeds) != len(prepared) \
                or any(p.session is not None for p in feeds) or len({id(p) for p in feeds}) == 1:
            return super().run_rows(ids, mask, prepared)
        bank = self._bank
        if bank is not None and all(id(p) in bank[1] for p in feeds):
            arrays, rows = bank[0], [bank[1][id(p)] for p in feeds]
        else:
            distinct: dict[int, int] = {}
            for p in feeds:
                distinct.setdefault(id(p), len(distinct))
            arrays = _stacked(self.slots, tuple({id(p): p for p in feeds}.values()))
            rows = [distinct[id(p)] for p in feeds]
        feed = {**arrays, ROWS_INPUT: np.array(rows, np.int64)}
        return self.session(FULL).run(None, self.inputs(ids, mask, feed))[0]

    def run_and_release(self, ids: np.ndarray, mask: np.ndarray, prepared: object) -> np.ndarray:
        """ONNX Runtime's CPU arena keeps its peak size; shrink it back after this run."""
        assert isinstance(prepared, LayoutFeed)
        options = ort.RunOptions()
        options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        feed = self.inputs(ids, mask, prepared.feed)
        return (prepared.session or self.session(prepared.layout)).run(None, feed, options)[0]


def _stacked(slots: list[Slot], entries: tuple[LayoutFeed, ...], leading_zeros: bool = False) -> dict[str, np.ndarray]:
    """Each slot's A [n, R, in] and B [n, out, R] of ``entries`` (row-adapter feeds, ``[1, r, ...]`` each),
    zero-padded to their largest rank rounded up to ``RANK_BUCKET`` (padding adds exact zeros), rank 1 of zeros
    where none has the slot (a row-adapter graph is never fed rank 0); ``leading_zeros``: an entry 0 of zeros first."""
    first = 1 if leading_zeros else 0
    out = {}
    for s in slots:
        ranks = [p.feed[s.a_name].shape[1] if s.a_name in p.feed else 0 for p in entries]
        rank = max(1, -(-max(ranks, default=0) // RANK_BUCKET) * RANK_BUCKET)
        a = np.zeros((first + len(entries), rank, s.in_features), np.float32)
        b = np.zeros((first + len(entries), s.out_features, rank), np.float32)
        for k, (p, r) in enumerate(zip(entries, ranks), start=first):
            if r:
                a[k, :r] = p.feed[s.a_name][0]
                b[k, :, :r] = p.feed[s.b_name][0]
        out[s.a_name], out[s.b_name] = a, b
    return out


def _read(handle, entry: object) -> np.ndarray:
    """A tensor of backbone.onnx at the place the manifest gives (``slot_weights``)."""
    if not isinstance(entry, dict):
        raise BundleError(f"{handle.name}: a backbone.slot_weights entry is not an object")
    try:
        dtype, shape, offset, length = np.dtype(entry["dtype"]), [int(d) for d in entry["shape"]], entry["offset"], entry["length"]
        if dtype not in (np.int8, np.float32) or int(np.prod(shape)) * dtype.itemsize != length or offset < 0:
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise BundleError(f"{handle.name}: backbone.slot_weights entry {entry.get('name')!r} is not a valid "
                          "tensor place (dtype int8/float32, shape, offset, length)") from None
    handle.seek(offset)
    data = handle.read(length)
    if len(data) != length:
        raise BundleError(f"{handle.name}: backbone.slot_weights entry {entry.get('name')!r} lies past the end of the file")
    return np.frombuffer(data, dtype=dtype).reshape(shape)
