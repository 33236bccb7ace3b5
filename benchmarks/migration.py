"""Adapters moved to a new backbone without labels (issue 27): for each dataset and seed, the adapter trained
with labels on the old backbone (the app's original), the same retrained with labels on the new backbone (the
upper reference), and the original migrated with no labels (``mtpf-deploy migrate``) for growing numbers of
unlabelled texts, each scored on the test split by what ships (the runtime's entities / labels, fp32
bundles), with the migration's agreement with its teacher on held-back texts beside it.

    .venv/bin/python benchmarks/migration.py --data-root ../shared/data --new-run bench_out/migration/new_run \\
        [--datasets wnut17,conll2003@0.01,conll2003@0.1,banking77] [--seeds 0,1,2] [--budgets 1000,5000,20000] \\
        [--direction forward|reverse]
    .venv/bin/python benchmarks/migration.py --report     # docs/results/migration.md + migration.png from the cells

Old backbone: the default (all-MiniLM-L6-v2); new: a pretrain run (MTPF-TPL, ``benchmarks/migration_prep.sh``:
300 steps, spaCy pseudo labels on the 10,000 Leipzig sentences); ``reverse`` swaps them. Unlabelled texts: the
dataset's own train texts with the labels dropped, then Leipzig Wikipedia sentences. Resumable: every finished
cell is one file in docs/results/migration/ (the adapters, bundles and migration state stay in --work)."""
from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "results" / "migration"
CLI = [str(ROOT / ".venv" / "bin" / "mtpf-deploy")]


def sh(args: list[str]) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run(args, check=True, cwd=ROOT)


def adapt(dataset: str, fraction: float | None, seed: int, backbone: str, run: Path | None, out: Path) -> Path:
    """``adapt`` with labels (the recipes of docs/evaluation.md), once."""
    if (out / "task.json").is_file():
        return out
    kind = "tc" if dataset == "banking77" else "ner"
    args = CLI + ["adapt", kind, "--dataset", dataset, "--data-root", DATA_ROOT, "--backbone", backbone,
                  "--seed", str(seed), "--out", str(out), "--overwrite"]
    if kind == "ner":
        args += ["--warmup-epochs", "3", "--epochs", "6", "--no-shipped-metric"]
        args += ["--train-fraction", str(fraction)] if fraction else []
        args += ["--init-adapter", str(run / "adapters" / "ner")] if run else []
    else:
        args += ["--embed-adapter", str(run / "adapters" / "tc")] if run else []
    sh(args)
    return out


def bundle(backbone: str, adapters: dict[str, Path], out: Path) -> Path:
    from mtpf_deploy.export.write_bundle import export_bundle

    have = json.loads((out / "manifest.json").read_text())["adapters"] if (out / "manifest.json").is_file() else None
    if have is None or set(have) != set(adapters):
        export_bundle(backbone, adapters, out, precision="fp32", slot_layouts=[], overwrite=True, log=lambda m: None)
    return out


def score(bundle_dir: Path, adapter: str | Path, dataset: str, kind: str) -> float:
    from mtpf_deploy.data.registry import load_split
    from mtpf_deploy.evaluation.shipped import accuracy, runtime_labels, shipped_ner_scores
    from mtpf_deploy.runtime import SystemModel

    system = SystemModel.load(bundle_dir, threads=2)
    name = system.load_adapter(adapter).name
    test = load_split(dataset, "test", DATA_ROOT)
    if kind == "ner":
        return shipped_ner_scores(system, name, test, f"{dataset} test")["f1"]
    return accuracy(runtime_labels(system, name, [x.text for x in test]), test)


def unlabelled(dataset: str) -> list[str]:
    from mtpf_deploy.data.registry import load_split

    own = [" ".join(s.words) if hasattr(s, "words") else s.text for s in load_split(dataset, "train", DATA_ROOT)]
    return own + list(load_split("leipzig_wikipedia", "train", DATA_ROOT))  # the vendor's corpus after the app's own


def write_cell(name: str, data: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps({**data, "command": "benchmarks/migration.py (module docstring)"},
                                                  indent=1) + "\n")
    print(name, {k: v for k, v in data.items() if isinstance(v, float)}, flush=True)


def pct(cell: dict | None, metric: str) -> str:
    return f"{100 * cell[metric]:.2f}" if cell and metric in cell else "—"


def _metric(cell: dict | None) -> str:
    return "f1" if cell and "f1" in cell else "accuracy"


def write_report() -> None:
    """The finished cells as tables (docs/results/migration.md: per seed, then the mean over seeds of
    migrated − retrained per budget) and a curve per dataset over seeds (migration.png)."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = {p.stem: json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))}
    keys = sorted({name.rsplit("__", 1)[0] for name in cells})
    lines = ["# Migration evidence (issue 27)", "", "Finished cells of `benchmarks/migration.py` (its module docstring "
             "has the command; regenerate with `--report`). Scores on the test split through the runtime (fp32 "
             "bundles): entity F1 for NER, accuracy for TC. Agreement: the migrated adapter against its teacher on "
             "held-back unlabelled texts. CPU s: the migration's process time (2 threads), teacher pass included.", "",
             "| direction / dataset / seed | original (labels, old) | retrained (labels, new) | unlabelled texts | "
             "migrated | migrated − retrained | migrated − original | agreement | CPU s |", "|---|---|---|---|---|---|---|---|---|"]
    curves: dict[str, dict[int, list[tuple[float, float, float]]]] = {}  # dataset -> budget -> (delta, migrated, agreement)
    for key in keys:
        original, retrained = cells.get(f"{key}__original"), cells.get(f"{key}__retrained")
        metric = _metric(original)
        migrated = sorted((int(n.rsplit("_", 1)[1]), c) for n, c in cells.items()
                          if n.startswith(f"{key}__migrated_") and metric in c)
        head = f"| {key.replace('__', ' / ')} | {pct(original, metric)} | {pct(retrained, metric)} |"
        if not migrated:
            lines.append(head + " — | — | — | — | — | — |")
        for budget, c in migrated:
            delta = f"{100 * (c[metric] - retrained[metric]):+.2f}" if retrained else "—"
            vs_teacher = f"{100 * (c[metric] - original[metric]):+.2f}" if original else "—"
            lines.append(f"{head} {c['texts']} | {pct(c, metric)} | {delta} | {vs_teacher} | {c['agreement']:.3f} "
                         f"({c['agreement_measure']}) | {c['cpu_seconds']:.0f} |")
            if retrained:
                curves.setdefault(key.rsplit("__", 1)[0], {}).setdefault(budget, []).append(
                    (100 * (c[metric] - retrained[metric]), 100 * c[metric], 100 * c["agreement"]))
    lines += ["", "Mean over seeds (± sample standard deviation where there are several):", "",
              "| direction / dataset | budget | seeds | migrated − retrained | agreement |", "|---|---|---|---|---|"]

    def mean_sd(values: list[float]) -> str:
        return f"{np.mean(values):+.2f}" + (f" ± {np.std(values, ddof=1):.2f}" if len(values) > 1 else "")

    for dataset, budgets in sorted(curves.items()):
        for budget, rows in sorted(budgets.items()):
            lines.append(f"| {dataset.replace('__', ' / ')} | {budget} | {len(rows)} | {mean_sd([r[0] for r in rows])} | "
                         f"{np.mean([r[2] for r in rows]):.1f} |")
    fig, axes = plt.subplots(1, max(1, len(curves)), figsize=(5 * max(1, len(curves)), 3.6), squeeze=False)
    for ax, (dataset, budgets) in zip(axes[0], sorted(curves.items())):
        xs = sorted(budgets)
        for index, label, style in ((0, "migrated − retrained", "o-"), (2, "agreement − 100", "s--")):
            ys = [[r[index] - (100 if index == 2 else 0) for r in budgets[b]] for b in xs]
            ax.errorbar(xs, [np.mean(y) for y in ys], yerr=[np.std(y, ddof=1) if len(y) > 1 else 0 for y in ys],
                        fmt=style, capsize=3, label=label)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.minorticks_off()
        ax.set(title=dataset.replace("__", " / "), xlabel="unlabelled texts", ylabel="points")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT.parent / "migration.png", dpi=110)
    lines += ["", "![migration curves: migrated minus retrained, and agreement, per budget](migration.png)", ""]
    (OUT.parent / "migration.md").write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    global DATA_ROOT
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", action="store_true", help="only write the table and plot from the finished cells")
    ap.add_argument("--data-root")
    ap.add_argument("--new-run", type=Path)
    ap.add_argument("--work", type=Path, default=Path("bench_out/migration"))
    ap.add_argument("--datasets", default="wnut17,conll2003@0.01,conll2003@0.1,banking77")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--budgets", default="1000,5000,20000")
    ap.add_argument("--direction", choices=("forward", "reverse"), default="forward")
    args = ap.parse_args()
    if args.report:
        return write_report()
    if not args.data_root or not args.new_run:
        ap.error("--data-root and --new-run are needed to run cells")
    DATA_ROOT = args.data_root
    from mtpf_deploy.errors import MtpfError
    from mtpf_deploy.training.migrate.config import MigrateConfig
    from mtpf_deploy.training.migrate.migrate import migrate_adapter

    run = args.new_run.resolve()
    sides = {"old": ("default", None), "new": (str(run / "backbone"), run)}
    if args.direction == "reverse":
        sides = {"old": sides["new"], "new": sides["old"]}
    for spec in args.datasets.split(","):
        dataset, _, frac = spec.partition("@")
        fraction = float(frac) if frac else None
        kind = "tc" if dataset == "banking77" else "ner"
        for seed in [int(s) for s in args.seeds.split(",")]:
            key = f"{args.direction}__{dataset}{'_' + frac if frac else ''}__s{seed}"
            work = args.work / key
            cells = {}
            for side in ("old", "new"):  # with labels: the original (old) and the upper reference (new)
                cell = OUT / f"{key}__{'original' if side == 'old' else 'retrained'}.json"
                backbone, side_run = sides[side]
                start = time.monotonic()
                folder = adapt(dataset, fraction, seed, backbone, side_run, work / f"{side}_adapter")
                bundle(backbone, {kind: folder}, work / f"{side}_bundle")
                if not cell.exists():
                    write_cell(cell.stem, {"f1" if kind == "ner" else "accuracy":
                                           score(work / f"{side}_bundle", kind, dataset, kind),
                                           "backbone": backbone, "wall_seconds_adapt_and_score": time.monotonic() - start})
                cells[side] = json.loads(cell.read_text())
            texts = unlabelled(dataset)
            for budget in [int(b) for b in args.budgets.split(",")]:
                cell = OUT / f"{key}__migrated_{budget}.json"
                if cell.exists():
                    continue
                out = work / f"migrated_{budget}.mtpfa"
                held = max(100, budget // 10)  # held back for the agreement report, beside the budget trained on
                cfg = MigrateConfig(from_bundle=str(work / "old_bundle"), adapters=[kind], to=str(work / "new_bundle"),
                                    new_backbone=str(sides["new"][1] or sides["new"][0]), texts="unused",
                                    max_texts=budget + held, heldout=held / (budget + held), min_agreement=0.0, seed=seed,
                                    work=str(work / f"migrate_{budget}"))
                start = time.process_time()
                try:
                    report = migrate_adapter(cfg, kind, out, texts, log=lambda m: print(m, flush=True), overwrite=True)
                except MtpfError as exc:
                    write_cell(cell.stem, {"refused": str(exc)})
                    continue
                write_cell(cell.stem, {"f1" if kind == "ner" else "accuracy": score(work / "new_bundle", out, dataset, kind),
                                       "agreement": report["agreement"]["score"], "agreement_measure":
                                       report["agreement"]["measure"], "texts": report["texts"],
                                       "heldout": report["heldout"], "cpu_seconds": time.process_time() - start,
                                       "original": cells["old"], "retrained": cells["new"]})


DATA_ROOT = ""

if __name__ == "__main__":
    main()
