"""Evaluation commands (``[train]``): ``evaluate`` (the downstream protocol over a suite) and ``analyze`` (Sec. 5)."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import MtpfError
from ..evaluation.config import AnalyzeConfig, EvaluateConfig
from .options import friendly, log, needs, settings_options


@click.command("evaluate")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="results folder (re-running skips the cells already in OUT/cells)")
@needs("train")
@friendly
@settings_options(EvaluateConfig)
def evaluate_cmd(out: Path, cfg: EvaluateConfig) -> None:
    """Run the downstream protocol of `adapt` over a suite of NER and TC datasets (resumable)."""
    from ..evaluation.evaluate import Model, evaluate
    from ..evaluation.report import load_results
    from ..evaluation.suites import load_suite

    loaded = load_suite(cfg.suite)
    if cfg.baseline is not None and not Path(cfg.baseline).exists():
        raise MtpfError(f"--baseline {cfg.baseline}: no such file or folder")
    base = load_results(Path(cfg.baseline)) if cfg.baseline else None
    model = Model.from_args(cfg.backbone, cfg.run)
    click.echo(f"evaluate {model.run or model.backbone}: suite {loaded.name}, {len(loaded.cells())} cells -> {out}")
    done = evaluate(model, loaded, out, Path(cfg.data_root) if cfg.data_root else None, cfg.device, base, log=log)
    for task, fam in done["results"]["families"].items():
        click.echo(f"{task.upper()} average over {fam['rows']} dataset settings: {100 * fam['mean']:.1f}")
    click.echo(f"wrote {out / 'results.json'} and {out / 'results.md'}")
    if done["errors"]:
        raise click.ClickException(f"{len(done['errors'])} cell(s) failed: {', '.join(done['errors'])} "
                                   f"(details in {out / 'errors.json'}; re-run to retry them)")


@click.command("analyze")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="output folder")
@needs("train")
@friendly
@settings_options(AnalyzeConfig)
def analyze_cmd(out: Path, cfg: AnalyzeConfig) -> None:
    """Paper Sec. 5: entity-swap sentence similarity (Finding 1) and within-sentence token similarity
    (Finding 2) per model; JSON + PNG plots."""
    from ..data.bio import read_bio
    from ..data.registry import load_split
    from ..evaluation.analyze import analyze
    from ..evaluation.evaluate import Model

    named = {}
    for spec in cfg.models:
        name, sep, path = spec.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not name or not path or "/" in name:
            raise click.BadParameter(f"expected NAME=PATH (NAME without '/'), not {spec!r}", param_hint="--model")
        if name in named:
            raise click.BadParameter(f"model name {name!r} given twice", param_hint="--model")
        is_run = Path(path).is_dir() and (Path(path) / "backbone").is_dir()
        named[name] = Model.from_args(None, path) if is_run else Model(path)
    if cfg.input is not None:
        if not Path(cfg.input).is_file():
            raise MtpfError(f"--input {cfg.input}: no such file")
        corpus = read_bio(cfg.input)
    elif cfg.data_root is not None:
        corpus = load_split("conll2003", "test", Path(cfg.data_root))
    else:
        raise MtpfError("give --data-root (CoNLL-2003 test) or --input FILE.bio")
    summary = analyze(named, corpus, out, cfg.sentences, cfg.variants, cfg.seed, cfg.adapter, device=cfg.device, log=log)
    click.echo(f"wrote {out / 'analysis.json'}, {out / 'perturbation_similarity.png'}, {out / 'token_similarity.png'} "
               f"({summary['settings']['sentences']} sentences x {cfg.variants} variants)")
