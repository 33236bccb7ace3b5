"""The bench result as JSON, a markdown report (tables + targets met or not) and PNG plots."""
from __future__ import annotations

import json
from pathlib import Path

from ..formats.atomic import atomic_file
from .run import EAGER, MERGED, MERGED_TC, OURS_ADAPTER, OURS_MERGED, OURS_PLAIN, OURS_TC

TARGETS_AT = ("16", "32", "128")


def _ms(result: dict, variant: str, length: str, threads: int = 1, table: str = "latency") -> float | None:
    row = result.get(table, {}).get(f"threads={threads}", {}).get(variant, {}).get(length)
    return None if row is None else row["median_ms"]


def targets(result: dict) -> list[dict]:
    """Each issue-9 target with the measured value, or ``met: None`` when it could not be measured."""
    p = result["bundle"]["precision"]
    ours, plain = OURS_ADAPTER.format(p=p), OURS_PLAIN.format(p=p)
    out: list[dict] = []

    def add(name: str, value: float | None, limit: float, above: bool = False, unit: str = "") -> None:
        met = None if value is None else (value >= limit if above else value <= limit)
        out.append({"target": name, "value": value, "limit": limit, "direction": ">=" if above else "<=",
                    "unit": unit, "met": met})

    ratio = lambda a, b: None if a is None or b is None else a / b  # noqa: E731
    for table, when in (("latency", ""), ("latency_busy_sibling", ", busy sibling core")):
        if table not in result:
            continue
        ms = lambda variant, n, table=table: _ms(result, variant, n, table=table)  # noqa: E731
        for n in TARGETS_AT:  # issue 25: the merged per-task model has the slot-less graph's ops
            m = ms(MERGED, n)
            add(f"NER-sized adapter vs a merged per-task int8 model, L={n}{when}", ratio(ms(ours, n), m), 1.10, unit="x")
            add(f"NER-sized adapter merged at load vs a merged per-task int8 model, L={n}{when}",
                ratio(ms(OURS_MERGED.format(p=p), n), m), 1.10, unit="x")
            add(f"TC-sized adapter vs its merged per-task int8 model, L={n}{when}",
                ratio(ms(OURS_TC.format(p=p), n), ms(MERGED_TC, n)), 1.05, unit="x")
            add(f"no adapter vs a graph without slots (the merged model), L={n}{when}", ratio(ms(plain, n), m), 1.03,
                unit="x")
    fusions = result["bundle"]["fusions"]
    layers = result["bundle"]["num_layers"]
    add("attention fused (MultiHeadAttention per layer)", fusions.get("multi_head_attention", 0) / layers, 1.0, True,
        "fraction of layers")
    add("GELU fused (Gelu per layer)", fusions.get("gelu", 0) / layers, 1.0, True, "fraction of layers")
    long = result.get("long_text", {})
    add(f"entities on a {long.get('tokens', '?')}-token text vs one pass", long.get("ratio_to_one_pass"), 1.3, unit="x")
    rss = result["adapters"]["rss_mb"]
    ours_rss, merged_rss = rss["ours (bundle + N adapters)"], rss["N merged per-task int8 models"]
    add("RSS(bundle + 10 adapters) / RSS(bundle)",
        ours_rss["10"] / ours_rss["0"] if "10" in ours_rss and "0" in ours_rss else None, 1.25, unit="x")
    add("RSS(bundle + 10 adapters) / RSS(10 merged models)",
        ours_rss["10"] / merged_rss["10"] if "10" in ours_rss and "10" in merged_rss else None, 0.25, unit="x")
    for n, limit in (("128", 2.5), ("32", 4.0)):
        e, a = _ms(result, EAGER, n), _ms(result, ours, n)
        add(f"speed-up vs PyTorch eager + PEFT, L={n}, 1 thread", None if e is None or a is None else e / a, limit, True,
            "x")
    mixed = result.get("mixed_batches", {})  # issue 26 (its own numbers: docs/serving.md)
    add("mixed-adapter batch throughput vs serial calls, L=32, 1 thread",
        mixed.get("32", {}).get("throughput mixed / serial"), 3.0, True, "x")
    add("mixed-adapter pass vs a same-adapter pass of the same shape, L=32",
        mixed.get("32", {}).get("mixed / same-adapter pass"), 1.2, unit="x")
    roof = result.get("roofline", {}).get("128", {}).get(ours)
    add("fraction of the int8 GEMM ceiling, L=128 (ours + adapter)", roof and roof["fraction_of_ceiling"], 0.75, True,
        "fraction")
    return out


def _fmt(v: object) -> str:
    return "—" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)


def markdown(result: dict, command: str) -> str:
    m = result["machine"]
    flags = ", ".join(f for f, on in m["flags"].items() if on) or "unknown"
    lines = [f"# mtpf-deploy bench — {result['bundle']['path']}", "",
             f"Command: `{command}`", "",
             f"Machine: {m['cpu']} ({m['machine']}, {m['usable_cpus']} usable CPUs; flags: {flags}); "
             f"versions: {', '.join(f'{k} {v}' for k, v in m['versions'].items())}.",
             f"Bundle: {result['bundle']['precision']} backbone, LoRA {result['bundle']['lora_precision']}, "
             f"fusions {result['bundle']['fusions']}; adapter `{result['bundle']['adapter']}` "
             f"({result['bundle']['adapter_task']}, ranks {result['bundle']['adapter_rank']}).",
             f"Timing: variants interleaved call by call, {result['settings']['warmup']} warm-up rounds, "
             f"{result['settings']['repeats']} timed; medians (p95 in the JSON), batch 1, ms.", ""]
    tables = [(f"{threads}", table) for threads, table in result["latency"].items()]
    tables += [(f"{threads}, busy sibling core", table) for threads, table in result.get("latency_busy_sibling", {}).items()]
    for threads, table in tables:
        lengths = sorted({int(n) for v in table.values() for n in v})
        lines += [f"## Latency, {threads}", "", "| variant | " + " | ".join(f"L={n}" for n in lengths) + " |",
                  "|---|" + "---|" * len(lengths)]
        for variant, row in table.items():
            lines.append(f"| {variant} | " + " | ".join(_fmt(row[str(n)]["median_ms"]) if str(n) in row else "—"
                                                      for n in lengths) + " |")
        lines.append("")
    if result["skipped"]:
        lines += ["Not measured: " + "; ".join(f"{k.strip()}: {v}" for k, v in result["skipped"].items()), ""]
    lines += ["## End to end (1 text) vs the backbone session alone", "", "| tokens | call | median ms |", "|---|---|---|"]
    for n, calls in result["end_to_end"].items():
        lines += [f"| {n} | {c} | {_fmt(v['median_ms'])} |" for c, v in calls.items()]
    long = result["long_text"]
    if "timing" in long:
        lines += ["", f"Long text: {long['tokens']} tokens, window {long['window']}, stride {long['stride']} "
                  f"({long['windows']} windows): " + ", ".join(f"{k} {_fmt(v['median_ms'])} ms" for k, v in long['timing'].items())
                  + f"; entities / one pass = {_fmt(long['ratio_to_one_pass'])}."]
    a = result["adapters"]
    lines += ["", "## Adapters", "", "| calls at L=32 | median ms |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v['median_ms'])} |" for k, v in a["switching"].items()]
    lines += ["", f"Adapter load (read + validate + prepare): {_fmt(a['load_ms']['median_ms'])} ms.", "",
              "| N | RSS ours (bundle + N adapters), MB | RSS N merged models, MB |", "|---|---|---|"]
    ours_rss, merged_rss = a["rss_mb"]["ours (bundle + N adapters)"], a["rss_mb"]["N merged per-task int8 models"]
    lines += [f"| {n} | {_fmt(v)} | {_fmt(merged_rss.get(n, '—'))} |" for n, v in ours_rss.items()]
    backend_rss = result.get("backend_rss_mb", {})
    if backend_rss.get("rss_mb"):
        lines += ["", f"RSS of a fresh process holding the bundle after one call ({backend_rss['rows']} row × "
                  f"{backend_rss['length']} tokens): " + ", ".join(f"{k} {_fmt(v)} MB" for k, v in backend_rss["rss_mb"].items())
                  + "."]
    lines += ["", "Sizes: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in a["sizes_bytes"].items()) + ".", "",
              "## Throughput (texts/s, 1 thread)", "", "| batch | " + " | ".join(next(iter(result["throughput"].values()))) + " |",
              "|---|" + "---|" * len(next(iter(result["throughput"].values())))]
    for b, row in result["throughput"].items():
        lines.append(f"| {b} | " + " | ".join(_fmt(v["texts_per_s"]) for v in row.values()) + " |")
    mixed = result.get("mixed_batches", {})
    if any(k.isdigit() for k in mixed):
        lines += ["", f"## Mixed-adapter batches ({len(mixed['adapters'])} rows, adapters in turn; row-adapter bundle: "
                  f"{'yes' if mixed['row_adapters'] else 'no'}; ms, 1 thread)", "",
                  "| L | serial (one run per row) | mixed pass | same-adapter pass | throughput mixed / serial |",
                  "|---|---|---|---|---|"]
        for n, row in ((k, v) for k, v in mixed.items() if k.isdigit()):
            t = row["timing"]
            lines.append(f"| {n} | {_fmt(t['serial (one run per row)']['median_ms'])} | {_fmt(t['mixed pass']['median_ms'])} "
                         f"| {_fmt(t['same-adapter pass']['median_ms'])} | {_fmt(row['throughput mixed / serial'])} |")
    lines += ["", "## The limit: GEMM throughput on the backbone's shapes (1 thread)", "",
              "| L | int8 ceiling GFLOP/s | fp32 ceiling GFLOP/s | variant: GFLOP/s (fraction of its ceiling) |", "|---|---|---|---|"]
    for n, row in result["roofline"].items():
        rest = "; ".join(f"{k}: {_fmt(v['gflops'])} ({_fmt(v['fraction_of_ceiling'])})" for k, v in row.items()
                         if isinstance(v, dict) and "gflops" in v)
        lines.append(f"| {n} | {_fmt(row['ceiling']['int8']['gflops'])} | {_fmt(row['ceiling']['fp32']['gflops'])} | {rest} |")
    lines += ["", "## Targets (issues 9, 25 and 26)", "", "| target | measured | limit | met |", "|---|---|---|---|"]
    for t in result["targets"]:
        met = "not measured" if t["met"] is None else ("yes" if t["met"] else "**no**")
        unit = t["unit"] if t["value"] is not None else ""
        lines.append(f"| {t['target']} | {_fmt(t['value'])} {unit} | {t['direction']} {t['limit']} | {met} |")
    return "\n".join(lines) + "\n"


def _save(fig, path: Path) -> str:
    with atomic_file(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return path.name


def _length_ticks(ax, lengths: list[int]) -> None:
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.minorticks_off()


def plots(result: dict, out: Path) -> list[str]:
    """latency.png, memory.png, roofline.png (needs matplotlib; returns the files written)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    fig, axes = plt.subplots(1, len(result["latency"]), figsize=(6 * len(result["latency"]), 4), squeeze=False)
    names = list(dict.fromkeys(v for table in result["latency"].values() for v in table))
    colour = {v: f"C{i % 10}" for i, v in enumerate(names)}  # one colour per variant in every panel
    for ax, (threads, table) in zip(axes[0], result["latency"].items()):
        for variant, row in table.items():
            xs = sorted(int(n) for n in row)
            ax.plot(xs, [row[str(n)]["median_ms"] for n in xs], marker="o", label=variant, color=colour[variant])
        ax.set(xscale="log", yscale="log", xlabel="tokens (batch 1)", ylabel="median ms", title=threads)
        _length_ticks(ax, sorted({int(n) for row in table.values() for n in row}))
        ax.legend(fontsize=7)
    fig.tight_layout()
    written.append(_save(fig, out / "latency.png"))
    rss = result["adapters"]["rss_mb"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, row in rss.items():
        if row:
            xs = sorted(int(n) for n in row)
            ax.plot(xs, [row[str(n)] for n in xs], marker="o", label=label)
    ax.set(xlabel="adapters / models", ylabel="RSS MB", title="memory of a fresh process")
    ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(_save(fig, out / "memory.png"))
    roof = result["roofline"]
    if not roof:
        plt.close("all")
        return written
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = sorted(int(n) for n in roof)
    ax.plot(xs, [roof[str(n)]["ceiling"]["int8"]["gflops"] for n in xs], "k--", label="int8 GEMM ceiling")
    ax.plot(xs, [roof[str(n)]["ceiling"]["fp32"]["gflops"] for n in xs], "k:", label="fp32 GEMM ceiling")
    variants = {k for n in xs for k, v in roof[str(n)].items() if isinstance(v, dict) and "gflops" in v}
    for v in sorted(variants):
        pts = [(n, roof[str(n)][v]["gflops"]) for n in xs if v in roof[str(n)]]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=v)
    ax.set(xscale="log", xlabel="tokens", ylabel="GFLOP/s on the linears (1 thread)", title="backbone vs GEMM ceiling")
    _length_ticks(ax, xs)
    ax.legend(fontsize=7)
    fig.tight_layout()
    written.append(_save(fig, out / "roofline.png"))
    plt.close("all")
    return written


def write_report(result: dict, out: Path, command: str) -> list[str]:
    """bench.json + bench.md (+ PNGs) in ``out``; returns the file names."""
    out.mkdir(parents=True, exist_ok=True)
    result["targets"] = targets(result)
    result["command"] = command
    with atomic_file(out / "bench.json", overwrite=True) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    with atomic_file(out / "bench.md", overwrite=True) as tmp:
        tmp.write_text(markdown(result, command))
    return ["bench.json", "bench.md", *plots(result, out)]
