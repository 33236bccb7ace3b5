"""Aggregate finished cells into ``results.json`` and a markdown table shaped like the paper's Tables 1/2
(per dataset, family averages, deltas against a baseline result)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import MtpfError
from ..formats.atomic import atomic_file
from .suites import Suite

RESULTS_SCHEMA = "mtpf-eval/1"


def collect(out: Path, suite: Suite | None = None) -> dict:
    """Mean ± std over seeds per (task, dataset, setting) from ``out/cells/*.json`` (the suite's cells only,
    when a suite is given), plus family averages over the rows every seed finished."""
    keys = {c.key for c in suite.cells()} if suite is not None else None
    cells = []
    for path in sorted((Path(out) / "cells").glob("*.json")):
        record = json.loads(path.read_text())
        if keys is None or record["cell"] in keys:
            cells.append(record)
    groups: dict[tuple, list] = {}
    for c in cells:
        groups.setdefault((c["task"], c["dataset"], c["setting"]), []).append(c)
    rows = []
    for (task, dataset, setting), members in groups.items():
        values = np.array([m["value"] for m in sorted(members, key=lambda m: m["seed"])])
        rows.append({"task": task, "dataset": dataset, "setting": setting, "metric": members[0]["metric"],
                     "mean": float(values.mean()), "std": float(values.std()), "seeds": sorted(m["seed"] for m in members),
                     "values": values.tolist(), "seconds": float(sum(m["seconds"] for m in members))})
    rows.sort(key=lambda r: (r["task"] != "ner", r["dataset"], r["setting"]))
    families = {}
    for task in ("ner", "tc"):
        means = [r["mean"] for r in rows if r["task"] == task]
        if means:
            families[task] = {"mean": float(np.mean(means)), "rows": len(means)}
    model = json.loads((Path(out) / "model.json").read_text()) if (Path(out) / "model.json").exists() else {}
    return {"schema": RESULTS_SCHEMA, "suite": suite.name if suite else None, "model": model, "rows": rows,
            "families": families, "cells": len(cells)}


def _row_key(r: dict) -> tuple:
    return r["task"], r["dataset"], r["setting"]


def load_results(path: str | Path) -> dict:
    """A ``results.json`` (or the folder holding it)."""
    path = Path(path)
    path = path / "results.json" if path.is_dir() else path
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MtpfError(f"--baseline {path}: not a readable results.json ({exc})") from None
    if data.get("schema") != RESULTS_SCHEMA:
        raise MtpfError(f"--baseline {path}: not an `mtpf-deploy evaluate` results.json (schema {data.get('schema')!r})")
    return data


def markdown(results: dict, baseline: dict | None = None) -> str:
    """Per-dataset rows (×100, mean ± std over seeds) and family averages; Δ columns against ``baseline``."""
    base = {_row_key(r): r for r in (baseline or {}).get("rows", [])}
    head = "| task | dataset | setting | metric | seeds | score (×100) |" + (" baseline | Δ |" if baseline else "")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results["rows"]:
        line = (f"| {r['task'].upper()} | {r['dataset']} | {r['setting']} | {r['metric']} | {len(r['seeds'])} | "
                f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f} |")
        if baseline:
            b = base.get(_row_key(r))
            line += (f" {100 * b['mean']:.1f} | {100 * (r['mean'] - b['mean']):+.1f} |" if b else " — | — |")
        lines.append(line)
    for task, fam in results["families"].items():
        line = f"| **{task.upper()} average** | {fam['rows']} datasets | | | | **{100 * fam['mean']:.1f}** |"
        if baseline:
            shared = [r for r in results["rows"] if r["task"] == task and _row_key(r) in base]
            if shared:
                mine = np.mean([r["mean"] for r in shared])
                theirs = np.mean([base[_row_key(r)]["mean"] for r in shared])
                line += f" {100 * theirs:.1f} | {100 * (mine - theirs):+.1f} |"
            else:
                line += " — | — |"
        lines.append(line)
    return "\n".join(lines) + "\n"


def write_results(out: Path, results: dict, baseline: dict | None = None) -> None:
    if baseline is not None:
        base = {_row_key(r): r for r in baseline["rows"]}
        for r in results["rows"]:
            b = base.get(_row_key(r))
            r["delta_vs_baseline"] = None if b is None else r["mean"] - b["mean"]
        results["baseline"] = baseline.get("model")
    with atomic_file(Path(out) / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2) + "\n")
    model = results.get("model", {})
    title = f"# Evaluation: {model.get('run') or model.get('backbone', '?')} (suite {results.get('suite')})\n\n"
    with atomic_file(Path(out) / "results.md") as tmp:
        tmp.write_text(title + markdown(results, baseline))


def comparison_table(named: dict[str, dict], base: str | None = None) -> str:
    """One row per model (paper Table 1/2 shape): each dataset/setting column, family averages, and the
    average's change against the ``base`` model's row."""
    columns = []
    for results in named.values():
        for r in results["rows"]:
            if _row_key(r) not in columns:
                columns.append(_row_key(r))
    columns.sort(key=lambda k: (k[0] != "ner", k[1], k[2]))
    by_model = {name: {_row_key(r): r for r in res["rows"]} for name, res in named.items()}
    head = ["model"] + [f"{d} {s} ({t.upper()})" for t, d, s in columns] + ["NER avg", "TC avg"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def avg(name: str, task: str) -> float | None:
        rows = [by_model[name].get(k) for k in columns if k[0] == task]
        return None if not rows or any(r is None for r in rows) else float(np.mean([r["mean"] for r in rows]))

    for name in named:
        cells = []
        for k in columns:
            r = by_model[name].get(k)
            cells.append("—" if r is None else f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f} (n={len(r['seeds'])})")
        for task in ("ner", "tc"):
            mine = avg(name, task)
            text = "—" if mine is None else f"{100 * mine:.1f}"
            theirs = avg(base, task) if base and base != name else None
            if mine is not None and theirs is not None:
                text += f" ({100 * (mine - theirs):+.1f})"
            cells.append(text)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
