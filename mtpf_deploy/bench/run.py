"""Measure a bundle next to the alternatives; returns the result dict ``report.py`` writes."""
from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data.tokenization import SPECIAL_TOKENS, content_window, windows
from ..errors import MtpfError
from ..formats.adapter_file import read_adapter_file
from ..formats.bundle import bundle_path, read_bundle_manifest
from ..formats.lora_slots import Slot, layout_slots
from ..runtime import SystemModel
from ..runtime.tasks.ner import default_stride
from .load import sibling_load
from .machine import machine_info
from .memory import rss_in_subprocess
from .roofline import gemm_ceiling, linear_flops
from .timing import interleaved, token_rows

SCHEMA = "mtpf-bench/1"


@dataclass
class BenchSettings:
    lengths: list[int] = field(default_factory=lambda: [16, 32, 64, 128, 256])
    threads: list[int] = field(default_factory=lambda: [1, 2])
    repeats: int = 30
    warmup: int = 3
    adapter_counts: list[int] = field(default_factory=lambda: [0, 1, 5, 10, 20])
    batches: list[int] = field(default_factory=lambda: [8, 32])
    throughput_length: int = 64
    long_text_tokens: int = 256
    e2e_lengths: list[int] = field(default_factory=lambda: [32, 128])
    busy_sibling: bool = False  # latency also measured with a load generator on the sibling core


QUICK = BenchSettings(lengths=[16, 32], threads=[1], repeats=3, warmup=1, adapter_counts=[0, 1, 2], batches=[4],
                      throughput_length=16, long_text_tokens=64, e2e_lengths=[16])

OURS_ADAPTER, OURS_PLAIN, OURS_FP32 = "ours {p} + adapter", "ours {p}, no adapter", "ours fp32 + adapter"
OURS_MERGED, OURS_TC = "ours {p} + adapter merged at load", "ours {p} + TC-sized adapter"
OURS_FULL_PLAIN = "ours {p}, no adapter, all-slot graph"
MERGED, EAGER, EXECUTORCH = "merged per-task int8", "PyTorch eager + PEFT", "ExecuTorch {p}+ adapter"
MERGED_TC = "merged per-task int8 (TC-sized)"


def tc_sized(lora: dict[str, np.ndarray], slots: list[Slot]) -> dict[str, np.ndarray]:
    """The adapter's LoRA on the task-primary LoRAs' slots only (query, key, MLP of the last 2 layers)."""
    kept = {s.a_name for s in layout_slots("tc", slots)}
    return {k: v for s in slots if s.a_name in kept for k, v in lora.items() if k in (s.a_name, s.b_name)}


def _pick_adapters(manifest: dict, folder: Path, name: str | None) -> tuple[str, str | None]:
    """The adapter to measure (default: the first NER adapter) and a TC adapter for ``classify``."""
    listed = manifest.get("adapters", {})
    if not listed:
        raise MtpfError(f"bundle {folder} lists no adapter to benchmark; export it with --adapters")
    tasks = {n: read_adapter_file(bundle_path(folder, rel, f"bundle {folder}: adapters")).task for n, rel in listed.items()}
    if name is not None and name not in listed:
        raise MtpfError(f"bundle {folder} has no adapter {name!r} (has {', '.join(sorted(listed))})")
    chosen = name or next((n for n, t in tasks.items() if t == "ner"), next(iter(listed)))
    tc = next((n for n, t in tasks.items() if t == "tc"), None)
    return chosen, tc


class Baselines:
    """The torch-built alternatives, or the reason they are missing."""

    def __init__(self, manifest: dict, backbone: str | None, lora: dict, slots: list[Slot], work: Path,
                 need_fp32: bool, log: Callable[[str], None]):
        self.skipped: dict[str, str] = {}
        self.fp32_bundle: Path | None = None
        self.merged_model: Path | None = None
        self.merged_tc_model: Path | None = None
        self.eager = None
        self.fusions: dict[str, int] = {}
        try:
            import peft  # noqa: F401
            import torch  # noqa: F401
        except ImportError as exc:
            for v in (OURS_FP32, MERGED, EAGER):
                self.skipped[v] = f"needs the export and train installs ({exc.name} is missing)"
            return
        from ..backbones import resolve_backbone
        from ..formats.hashing import backbone_weights_sha256
        from .baselines import eager_peft, export_merged_int8, merged_backbone

        source_name = backbone or manifest["backbone"].get("source", "default")
        try:
            source = resolve_backbone(source_name)
            if backbone_weights_sha256(source) != manifest["backbone"]["weights_sha256"]:
                raise MtpfError(f"{source} is not the bundle's backbone (weights differ)")
        except MtpfError as exc:
            for v in (OURS_FP32, MERGED, EAGER):
                self.skipped[v] = f"backbone source not available ({exc}); pass --backbone"
            return
        if need_fp32:
            from ..export.write_bundle import export_bundle

            log("exporting the fp32 bundle of the same backbone ...")
            self.fp32_bundle = work / "fp32_bundle"
            export_bundle(str(source), {}, self.fp32_bundle, precision="fp32", log=lambda m: None)
        log("building the merged per-task int8 model ...")
        folder = merged_backbone(source, lora, slots, work / "merged_hf")
        self.merged_model = work / "merged_int8.onnx"
        self.fusions = export_merged_int8(folder, self.merged_model)
        tc = tc_sized(lora, slots)
        if tc:
            log("building the merged per-task int8 model of the TC-sized adapter ...")
            self.merged_tc_model = work / "merged_tc_int8.onnx"
            export_merged_int8(merged_backbone(source, tc, slots, work / "merged_tc_hf"), self.merged_tc_model)
        self.eager = eager_peft(source, lora, slots)


def _ort_session(path: Path, threads: int, spin: bool, ours: bool = False):
    """A session of ``path`` with the runtime's options; ``ours``: also the session config our bundles
    record (for models exported like ours; baselines get ONNX Runtime's defaults)."""
    import onnxruntime as ort

    from ..formats.bundle import ONNXRUNTIME
    from ..runtime.engines.onnx import session_options

    options = ONNXRUNTIME if ours else dict(ONNXRUNTIME, session_config={})
    return ort.InferenceSession(str(path), session_options(threads, spin, options), providers=["CPUExecutionProvider"])


def _rows(system: SystemModel, length: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Random ordinary-token rows (ids from the upper part of the vocabulary, specials excluded)."""
    vocab = system.tokenizer.get_vocab_size()
    return token_rows(length, batch, min(1000, vocab // 2), min(2000, vocab), system.cls_id, system.sep_id)


def _text_of(system: SystemModel, tokens: int) -> str:
    """An English text of about ``tokens`` sub-word tokens (specials included)."""
    sentence = ("Taylor Swift played Madison Square Garden in New York last night , and Apple announced "
                "a new office in Berlin near the Brandenburg Gate . ").split()
    words: list[str] = []
    while True:
        nxt = words + [sentence[len(words) % len(sentence)]]
        if len(system.tokenizer.encode(" ".join(nxt), add_special_tokens=False).ids) + 2 > tokens:
            return " ".join(words)
        words = nxt


def run_bench(bundle: Path, settings: BenchSettings, adapter: str | None = None, backbone: str | None = None,
              with_baselines: bool = True, compare: dict[str, Path] | None = None,
              log: Callable[[str], None] = print, trust: Path | None = None) -> dict:
    """Every measurement on ``bundle``. ``compare``: more ONNX models (name -> file taking
    ``input_ids``/``attention_mask``[/``token_type_ids``]) timed beside ours, e.g. an optimum export."""
    bundle = Path(bundle)
    manifest = read_bundle_manifest(bundle)
    bb = manifest["backbone"]
    if "onnx" not in manifest.get("backends", ["onnx"]):
        raise MtpfError(f"bundle {bundle} has no ONNX backbone to benchmark")
    name, tc_name = _pick_adapters(manifest, bundle, adapter)
    adapter_path = bundle_path(bundle, manifest["adapters"][name], f"bundle {bundle}: adapters")
    af = read_adapter_file(adapter_path)
    slots = [Slot.from_json(s) for s in bb["slots"]]
    precision = bb.get("precision", "fp32")
    lengths = [n for n in settings.lengths if n <= bb["max_length"]]
    result: dict = {"schema": SCHEMA, "machine": machine_info(), "settings": asdict(settings),
                    "bundle": {"path": str(bundle), "precision": precision,
                               "lora_precision": bb.get("lora_precision", "fp32"), "fusions": bb.get("fusions", {}),
                               "hidden_size": bb["hidden_size"], "num_layers": bb["num_layers"],
                               "max_length": bb["max_length"], "adapter": name, "adapter_task": af.task,
                               "adapter_rank": {s.family: int(af.lora[s.a_name].shape[0]) for s in slots
                                                if s.a_name in af.lora}},
                    "skipped": {}}
    # every variant runs in this one process, interleaved: with more than one thread, worker threads that
    # spin-wait after an op would steal the cores from the next variant, so none spins (ORT, OpenMP)
    spin = max(settings.threads) == 1
    result["settings"]["spin_wait"] = spin
    ours = {t: SystemModel.load(bundle, threads=t, spin=spin, trust=trust) for t in settings.threads}
    feeds = {t: s.load_adapter(name) for t, s in ours.items()}
    others = _compare_sessions(compare or {}, settings.threads)  # bad --compare fails before the slow part
    result["compared_models"] = {k: str(v) for k, v in (compare or {}).items()}
    with tempfile.TemporaryDirectory(prefix="mtpf-bench-") as tmp:
        base = Baselines(manifest, backbone, af.lora, slots, Path(tmp), precision != "fp32", log) if with_baselines \
            else None
        if base is None:
            result["skipped"].update({v: "--no-baselines" for v in (OURS_FP32, MERGED, EAGER)})
        else:
            result["skipped"].update(base.skipped)
            result["merged_fusions"] = base.fusions
        et = None
        if "executorch" in manifest.get("backends", []):
            try:  # one ExecuTorch thread pool per process: measured at the first thread count only
                t0 = settings.threads[0]
                et = {t0: SystemModel.load(bundle, threads=t0, backend="executorch", trust=trust)}
                if len(settings.threads) > 1:
                    result["skipped"]["ExecuTorch at other thread counts"] = \
                        f"its thread pool is one per process, sized {t0} here"
            except (ImportError, MtpfError) as exc:
                result["skipped"][EXECUTORCH.format(p=manifest["executorch"]["precision"] + " ")] = str(exc)
        else:
            result["skipped"][EXECUTORCH.format(p="")] = "the bundle has no ExecuTorch backbone (--format both)"
        result["latency"] = _latency(ours, feeds, af.lora, base, et, others, lengths, settings, precision, manifest, log)
        if settings.busy_sibling:
            with sibling_load(True) as load:
                log(f"latency again with a busy process on CPU {load['cpu']} ...")
                result["latency_busy_sibling"] = _latency(ours, feeds, af.lora, base, et, others, lengths, settings,
                                                          precision, manifest, log)
            result["settings"]["sibling_load"] = load
        result["end_to_end"] = _end_to_end(ours[1 if 1 in ours else settings.threads[0]], name, tc_name,
                                           settings, log)
        result["long_text"] = _long_text(ours[min(ours)], name, settings)
        result["adapters"] = _adapters(ours[min(ours)], bundle, adapter_path, base, settings, log)
        result["throughput"] = _throughput(ours[min(ours)], name, base, others, settings, precision, log)
        result["mixed_batches"] = _mixed_batches(ours[min(ours)], settings, log)
        result["backend_rss_mb"] = _backend_rss(bundle, manifest, settings, result["skipped"], log)
    try:
        import onnx  # noqa: F401  # builds the one-op GEMM graphs
    except ImportError:
        result["roofline"] = {}
        result["skipped"]["GEMM ceiling (roofline)"] = "needs the onnx package (pip install 'mtpf-deploy[export]')"
    else:
        result["roofline"] = _roofline(result, lengths, bb, settings, log)
    return result


def _compare_sessions(compare: dict[str, Path], threads: list[int]) -> dict[str, dict[int, Callable]]:
    """name -> threads -> run(ids, mask) for each model to compare."""
    out: dict[str, dict[int, Callable]] = {}
    for name, path in compare.items():
        if not Path(path).is_file():
            raise MtpfError(f"--compare {name}={path}: no such file")
        out[name] = {}
        for t in threads:
            try:
                session = _ort_session(Path(path), t, spin=max(threads) == 1)
            except Exception as exc:  # onnxruntime's own error types
                raise MtpfError(f"--compare {name}={path}: ONNX Runtime cannot load it ({str(exc)[:200]})") from None
            names = {i.name for i in session.get_inputs()}
            if not {"input_ids", "attention_mask"} <= names:
                raise MtpfError(f"--compare {name}={path}: inputs must include input_ids and attention_mask, "
                                f"not {sorted(names)}")

            def run(i, m, session=session, types="token_type_ids" in names):
                feed = {"input_ids": i, "attention_mask": m}
                if types:
                    feed["token_type_ids"] = np.zeros_like(i)
                return session.run(None, feed)
            out[name][t] = run
    return out


def _latency(ours, feeds, lora, base, et, others, lengths, settings, precision, manifest, log) -> dict:
    out: dict = {}
    fp32 = None
    if base is not None and base.fp32_bundle is not None:
        fp32 = {t: SystemModel.load(base.fp32_bundle, threads=t, spin=max(settings.threads) == 1)
                for t in settings.threads}
    for t in settings.threads:
        s = ours[t]
        calls: dict[str, Callable[[np.ndarray, np.ndarray], object]] = {
            OURS_ADAPTER.format(p=precision): lambda i, m, s=s, f=feeds[t].feed: s.engine.run(i, m, f),
            OURS_PLAIN.format(p=precision): lambda i, m, s=s: s.engine.run(i, m, s.engine.no_adapter),
        }
        if s.backend == "onnx":
            from ..runtime.engines.onnx import FULL, LayoutFeed

            merged_feed = s.load_adapter(_adapter_file(s, feeds[t]), name=f"{feeds[t].name}__merged", merge=True).feed
            calls[OURS_MERGED.format(p=precision)] = lambda i, m, s=s, f=merged_feed: s.engine.run(i, m, f)
            tc = tc_sized(lora, s.engine.slots)
            if tc:
                calls[OURS_TC.format(p=precision)] = lambda i, m, s=s, f=s.engine.prepare(tc, "bench"): s.engine.run(i, m, f)
            if s.engine.layouts:
                calls[OURS_FULL_PLAIN.format(p=precision)] = lambda i, m, s=s: s.engine.run(i, m, LayoutFeed(FULL, {}))
        if base is not None and base.merged_tc_model is not None:
            merged_tc = _ort_session(base.merged_tc_model, t, spin=max(settings.threads) == 1, ours=True)
            calls[MERGED_TC] = lambda i, m, sess=merged_tc: sess.run(None, {"input_ids": i, "attention_mask": m})
        if fp32 is not None:
            a = fp32[t].load_adapter(_adapter_file(ours[t], feeds[t]))
            calls[OURS_FP32] = lambda i, m, s=fp32[t], f=a.feed: s.engine.run(i, m, f)
        if base is not None and base.merged_model is not None:
            merged = _ort_session(base.merged_model, t, spin=max(settings.threads) == 1, ours=True)
            calls[MERGED] = lambda i, m, sess=merged: sess.run(None, {"input_ids": i, "attention_mask": m})
        for other, by_threads in others.items():
            calls[other] = by_threads[t]
        if et is not None and t in et:
            a = et[t].load_adapter(feeds[t].name)
            calls[EXECUTORCH.format(p=manifest["executorch"]["precision"] + " ")] = \
                lambda i, m, s=et[t], f=a.feed: s.engine.run(i, m, f)
        if base is not None and base.eager is not None:
            import torch

            def eager(i, m, model=base.eager):
                with torch.inference_mode():
                    return model(input_ids=torch.from_numpy(i), attention_mask=torch.from_numpy(m)).last_hidden_state
            calls[EAGER] = eager
            torch.set_num_threads(t)
        out[f"threads={t}"] = by_length = {}
        for n in lengths:
            log(f"latency: {t} thread(s), L={n}")
            ids, mask = _rows(ours[t], n, 1)
            timed = interleaved({k: (lambda fn=fn, i=ids, m=mask: fn(i, m)) for k, fn in calls.items()}, settings.repeats,
                                settings.warmup)
            for variant, stats in timed.items():
                by_length.setdefault(variant, {})[str(n)] = stats
        if f"{feeds[t].name}__merged" in s.adapters:
            s.unload_adapter(f"{feeds[t].name}__merged")  # its weights copy would count in the memory rows
    return out


def _backend_rss(bundle: Path, manifest: dict, settings: BenchSettings, skipped: dict, log) -> dict:
    """RSS of a fresh process holding the bundle on each of its backends after one call of one row at
    the throughput length (``bench/memory.py`` mode ``backend``)."""
    out: dict = {}
    length = min(settings.throughput_length, manifest["backbone"]["max_length"])
    for backend in manifest.get("backends", ["onnx"]):
        log(f"memory: {backend} backend")
        try:
            out[backend] = rss_in_subprocess("backend", bundle, backend, 1, length)["rss_mb"]
        except RuntimeError as exc:
            skipped[f"RSS of the {backend} backend"] = str(exc)[-200:]
    return {"rows": 1, "length": length, "rss_mb": out}


def _adapter_file(system: SystemModel, adapter) -> str:
    return str(bundle_path(system.folder, system.manifest["adapters"][adapter.name], "adapters"))


def _end_to_end(system: SystemModel, name: str, tc_name: str | None, settings: BenchSettings, log) -> dict:
    """Runtime calls on one text vs the backbone session alone on the same token count."""
    out: dict = {}
    ner = system.adapters[name] if system.adapters[name].task == "ner" else None
    tc = system.load_adapter(tc_name) if tc_name else None
    for n in settings.e2e_lengths:
        if n > min(system.max_length, *(a.max_length for a in (ner, tc) if a is not None)):
            continue
        log(f"end to end: L={n}")
        text = _text_of(system, n)
        tokens = len(system.tokenizer.encode(text).ids)
        ids, mask = _rows(system, tokens, 1)
        calls: dict[str, Callable[[], object]] = {}
        if ner is not None:
            calls["session (NER adapter)"] = lambda f=ner.feed, i=ids, m=mask: system.engine.run(i, m, f)
            calls["entities()"] = lambda t=text: system.entities(t, ner)
        if tc is not None:
            calls["session (TC adapter)"] = lambda f=tc.feed, i=ids, m=mask: system.engine.run(i, m, f)
            calls["classify()"] = lambda t=text: system.classify(t, tc)
            calls["embed()"] = lambda t=text: system.embed(t, tc)
        out[str(tokens)] = interleaved(calls, settings.repeats, settings.warmup)
    return out


def _long_text(system: SystemModel, name: str, settings: BenchSettings) -> dict:
    """``entities`` on a text longer than the adapter's window vs one pass over all its tokens."""
    adapter = system.adapters[name]
    if adapter.task != "ner":
        return {"skipped": "the adapter is not an NER adapter"}
    tokens = settings.long_text_tokens
    window = content_window(adapter.max_length)
    if tokens > system.max_length:
        return {"skipped": f"the backbone takes at most {system.max_length} tokens"}
    text = _text_of(system, tokens)
    n = len(system.tokenizer.encode(text).ids)
    ids, mask = _rows(system, n, 1)
    stride = default_stride(window)
    calls = {"one pass": lambda: system.engine.run(ids, mask, adapter.feed),
             "entities()": lambda: system.entities(text, adapter),
             "entities(stride=window/2)": lambda: system.entities(text, adapter, stride=max(1, window // 2))}
    timed = interleaved(calls, settings.repeats, settings.warmup)
    return {"tokens": n, "window": window, "stride": stride, "windows": len(windows(n - SPECIAL_TOKENS, window, stride)),
            "timing": timed,
            "ratio_to_one_pass": timed["entities()"]["median_ms"] / timed["one pass"]["median_ms"]}


def _adapters(system: SystemModel, bundle: Path, adapter_path: Path, base, settings: BenchSettings, log) -> dict:
    log("adapters: switching, load time, memory")
    copies = [system.load_adapter(adapter_path, name=f"bench{i}") for i in range(10)]
    ids, mask = _rows(system, 32, 1)
    turn = {"k": 0}

    def cycle(n: int) -> object:
        turn["k"] += 1
        return system.run_ids(ids.tolist(), copies[turn["k"] % n])
    switching = interleaved({"same adapter every call": lambda: system.run_ids(ids.tolist(), copies[0]),
                             "2 adapters alternating": lambda: cycle(2),
                             "10 adapters in turn": lambda: cycle(10)}, settings.repeats * 2, settings.warmup)
    loads = []
    for _ in range(max(3, settings.repeats // 3)):
        start = time.perf_counter()
        system.load_adapter(adapter_path, name="bench_load")
        loads.append((time.perf_counter() - start) * 1000)
        system.unload_adapter("bench_load")
    for i in range(10):
        system.unload_adapter(f"bench{i}")
    rss_ours = {str(n): rss_in_subprocess("ours", bundle, adapter_path, n)["rss_mb"] for n in settings.adapter_counts}
    rss_merged = {}
    if base is not None and base.merged_model is not None:
        tokenizer = bundle / system.manifest["tokenizer"]
        rss_merged = {str(n): rss_in_subprocess("merged", base.merged_model, tokenizer, n)["rss_mb"]
                      for n in settings.adapter_counts if n > 0}
    manifest = system.manifest
    sizes = {"bundle backbone": (bundle / manifest["backbone"]["file"]).stat().st_size,
             "tokenizer": (bundle / manifest["tokenizer"]).stat().st_size,
             "adapter file": adapter_path.stat().st_size}
    if base is not None and base.merged_model is not None:
        sizes["merged per-task int8 model"] = base.merged_model.stat().st_size
    return {"switching": switching, "load_ms": {"median_ms": float(np.median(loads)), "n": len(loads)},
            "rss_mb": {"ours (bundle + N adapters)": rss_ours, "N merged per-task int8 models": rss_merged},
            "sizes_bytes": sizes}


def _throughput(system: SystemModel, name: str, base, others, settings: BenchSettings, precision: str, log) -> dict:
    adapter = system.adapters[name]
    out: dict = {}
    for b in settings.batches:
        log(f"throughput: batch {b}")
        ids, mask = _rows(system, settings.throughput_length, b)
        calls: dict[str, Callable[[], object]] = {
            OURS_ADAPTER.format(p=precision): lambda i=ids, m=mask: system.engine.run(i, m, adapter.feed)}
        if base is not None and base.merged_model is not None:
            merged = _ort_session(base.merged_model, 1, spin=max(settings.threads) == 1, ours=True)
            calls[MERGED] = lambda s=merged, i=ids, m=mask: s.run(None, {"input_ids": i, "attention_mask": m})
        for other, by_threads in others.items():
            calls[other] = lambda fn=by_threads[min(by_threads)], i=ids, m=mask: fn(i, m)
        if base is not None and base.eager is not None:
            import torch

            torch.set_num_threads(1)

            def eager(model=base.eager, i=ids, m=mask):
                with torch.inference_mode():
                    return model(input_ids=torch.from_numpy(i), attention_mask=torch.from_numpy(m))
            calls[EAGER] = eager
        timed = interleaved(calls, max(3, settings.repeats // 3), settings.warmup)
        out[str(b)] = {k: dict(v, texts_per_s=b / v["median_ms"] * 1000) for k, v in timed.items()}
    return out


MIXED_ROWS = 8  # issue 26: 8 requests, one row each, cycling over the bundle's adapters


def _mixed_batches(system: SystemModel, settings: BenchSettings, log) -> dict:
    """Rows of different adapters (the bundle's, in turn): 8 single-row runs against one mixed pass
    (``run_rows``: one session run on a row-adapter bundle, one per adapter otherwise) and against a pass of
    the same shape with one adapter. Interleaved, at L = 32 and 128."""
    names = sorted(system.manifest.get("adapters", {}))
    if len(names) < 2:
        return {"skipped": "the bundle has fewer than 2 adapters"}
    for n in names:
        if n not in system.adapters:
            system.load_adapter(n)
    adapters = [names[i % len(names)] for i in range(MIXED_ROWS)]
    out: dict = {"row_adapters": bool(getattr(system.engine, "row_adapters", False)), "adapters": adapters}
    for length in (n for n in (32, 128) if n <= system.max_length):
        log(f"mixed batches: {MIXED_ROWS} rows of {length} tokens")
        ids, _ = _rows(system, length, MIXED_ROWS)
        rows = [list(map(int, r)) for r in ids]
        calls: dict[str, Callable[[], object]] = {
            "serial (one run per row)": lambda rows=rows: [system.run_rows([r], [a]) for r, a in zip(rows, adapters)],
            "mixed pass": lambda rows=rows: system.run_rows(rows, adapters),
            "same-adapter pass": lambda rows=rows: system.run_rows(rows, [adapters[0]] * MIXED_ROWS)}
        timed = interleaved(calls, max(3, settings.repeats // 3), settings.warmup)
        med = {k: v["median_ms"] for k, v in timed.items()}
        out[str(length)] = {"timing": timed, "throughput mixed / serial": med["serial (one run per row)"] / med["mixed pass"],
                            "mixed / same-adapter pass": med["mixed pass"] / med["same-adapter pass"]}
    return out


def _roofline(result: dict, lengths: list[int], bb: dict, settings: BenchSettings, log) -> dict:
    hidden, layers = bb["hidden_size"], bb["num_layers"]
    intermediate = next(s["out"] for s in bb["slots"] if s["family"] == "intermediate")
    latency = result["latency"].get("threads=1") or next(iter(result["latency"].values()))
    out: dict = {}
    p = result["bundle"]["precision"]
    for n in lengths:
        log(f"roofline: L={n}")
        ceiling = gemm_ceiling(n, hidden, intermediate, 1, settings.repeats, settings.warmup)
        flops = linear_flops(n, hidden, intermediate, layers)
        row = {"linear_gflop": flops / 1e9, "ceiling": ceiling}
        for variant in (OURS_PLAIN.format(p=p), OURS_ADAPTER.format(p=p), OURS_FP32, MERGED):
            if variant in latency and str(n) in latency[variant]:
                ms = latency[variant][str(n)]["median_ms"]
                ceiling_ms = ceiling["int8" if "int8" in variant else "fp32"]["layer_linears_ms"] * layers
                row[variant] = {"gflops": flops / ms / 1e6, "fraction_of_ceiling": ceiling_ms / ms}
        out[str(n)] = row
    return out
