"""Training commands (torch, ``[train]``): ``datasets``, ``adapt ner|tc|multitask``, ``pretrain``, ``pseudo-label``."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import MtpfError
from ..training.adapt.config import NerAdaptConfig, TcAdaptConfig
from ..training.migrate.config import MigrateConfig
from ..training.multitask.config import MultitaskConfig
from ..training.pretrain.config import PretrainConfig, PseudoLabelConfig
from .options import data_options, friendly, log, needs, settings_options


def _adapt_and_preview(task, train_fn, preview_fn, cfg, data, out, overwrite, examples) -> None:
    """Read the splits, train, write the adapter folder, then reload it and print a few predictions."""
    from ..data.splits import load_task_splits

    dataset, data_root, train_file, dev_file, test_file, fmt = data
    splits = load_task_splits(task, dataset, data_root, {"train": train_file, "dev": dev_file, "test": test_file}, fmt)
    unit = "sentences" if task == "ner" else "examples"
    click.echo(f"adapt {task}: {len(splits['train'])} train {unit}, backbone {cfg.backbone}")
    cfg.card_fields()  # a bad --card file fails now, not after training
    if not cfg.training_data:  # the card says what it was trained on
        source = dataset or (train_file.name if train_file else "train file")
        cfg.training_data = f"{source}: {len(splits['train'])} train {unit}"
    train_fn(cfg, splits, out, overwrite, log=log)
    click.echo(f"wrote {out}")
    sample = splits.get("dev") or splits.get("test") or []
    if examples and sample:
        preview_fn(cfg.backbone, out, sample[:examples], cfg.device, log)


@click.command("datasets")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object per dataset (JSONL) instead of a table")
def datasets_cmd(as_json: bool) -> None:
    """List the registered datasets (task, splits, licence)."""
    from ..data.registry import REGISTRY, split_names

    for name, spec in sorted(REGISTRY.items()):
        if as_json:
            click.echo(json.dumps({"name": name, "task": spec.task, "splits": split_names(name), "license": spec.license}))
        else:
            click.echo(f"{name:30s} {spec.task:9s} {','.join(split_names(name)):16s} {spec.license}")


@click.group()
def adapt() -> None:
    """App side: train an adapter for one task on top of the shared backbone."""


def _adapt_command(task: str, config: type, help: str) -> click.Command:
    """``adapt TASK``: read the splits, train with ``training/adapt/TASK.py``, preview a few predictions."""

    @data_options
    @needs("train")
    @friendly
    @settings_options(config)
    def command(dataset, data_root, train_file, dev_file, test_file, fmt, out, overwrite, examples, cfg) -> None:
        import importlib

        train_fn = getattr(importlib.import_module(f"mtpf_deploy.training.adapt.{task}"), f"adapt_{task}")
        preview_fn = getattr(importlib.import_module("mtpf_deploy.training.adapt.preview"), f"preview_{task}")
        _adapt_and_preview(task, train_fn, preview_fn, cfg, (dataset, data_root, train_file, dev_file, test_file, fmt),
                           out, overwrite, examples)

    command.__doc__ = help
    return adapt.command(task)(command)


adapt_ner_cmd = _adapt_command("ner", NerAdaptConfig,
                               "NER: LoRA on query/key/MLP of all layers + token head (head warm-up, then joint training).")
adapt_tc_cmd = _adapt_command("tc", TcAdaptConfig,
                              "Text classification: mean-pooled embeddings -> logistic regression (MTEB protocol).")


@adapt.command("multitask")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="output folder: adapters/<task>/ (+ backbone/ with --mode full), metrics.json")
@click.option("--overwrite", is_flag=True, help="replace --out if it exists")
@needs("train")
@friendly
@settings_options(MultitaskConfig)
def adapt_multitask_cmd(out, overwrite, cfg) -> None:
    """SST-5 sentiment, paraphrase (MRPC) and STS-B together (the second source): one adapter per task."""
    from ..training.multitask.trainer import adapt_multitask, load_multitask_splits

    splits = load_multitask_splits(cfg.tasks, cfg.data_root)
    click.echo(f"adapt multitask ({cfg.mode}, {cfg.task_sampling}, loss {cfg.loss}): "
               + ", ".join(f"{t} {len(s['train'])} train" for t, s in splits.items()))
    metrics = adapt_multitask(cfg, splits, out, overwrite, log=log)
    for split in ("dev", "test"):
        m = metrics[split]
        if m:
            click.echo(f"{split} (epoch {metrics['best_epoch']}): " + ", ".join(
                f"{t} {v.get('accuracy', v.get('pearson')):.4f}" for t, v in m.items() if t != "total")
                + f", total {m['total']:.4f}")
    click.echo(f"wrote {out} (export: mtpf-deploy export --run {out} --adapters {','.join(cfg.tasks)})")


@click.command("pretrain")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="run folder")
@click.option("--resume", is_flag=True, help="continue from the newest checkpoint in --out")
@click.option("--overwrite", is_flag=True, help="replace --out if it exists")
@needs("train")
@friendly
@settings_options(PretrainConfig)
def pretrain_cmd(out, resume, overwrite, cfg) -> None:
    """System side: pre-finetune the shared backbone (and task-primary LoRAs)."""
    from ..training.pretrain.trainer import Pretrainer

    Pretrainer(cfg, out, log=log).run(resume=resume, overwrite=overwrite)


@click.command("pseudo-label")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="corpus folder to write")
@click.option("--overwrite", is_flag=True, help="replace --out if it exists")
@needs("train")
@friendly
@settings_options(PseudoLabelConfig)
def pseudo_label_cmd(out, overwrite, cfg) -> None:
    """Tag an unlabeled corpus with a teacher (cached for `pretrain --ner-corpus`)."""
    from ..data.corpus import read_corpus
    from ..data.pseudo_corpus import write_pseudo_corpus
    from ..data.registry import load_split
    from ..training.pretrain import pseudo_label as pl

    if cfg.dataset:
        sentences = load_split(cfg.dataset, "train", cfg.data_root or Path("."))
    elif cfg.corpus:
        sentences = read_corpus(cfg.corpus)
    else:
        raise MtpfError("give --corpus FILE or --dataset NAME --data-root DIR")
    if not all(isinstance(s, str) for s in sentences[:1]):
        raise MtpfError(f"dataset {cfg.dataset!r} is not an unlabeled text dataset")
    sentences = sentences[: cfg.limit] if cfg.limit else sentences
    click.echo(f"pseudo-label ({cfg.method}): {len(sentences)} sentences")
    if cfg.method == "kmeans":
        tagged = pl.pseudo_label_kmeans(cfg.teacher, sentences, k=cfg.k, seed=cfg.seed, max_length=cfg.max_length,
                                        device=cfg.device)
        meta = {"method": cfg.method, "teacher": cfg.teacher, "k": cfg.k, "seed": cfg.seed}
    elif cfg.method == "spacy-ner":
        tagged = pl.pseudo_label_spacy_ner(sentences, cfg.spacy_model)
        meta = {"method": cfg.method, "teacher": cfg.spacy_model}
    else:
        tagged = pl.pseudo_label_spacy_kmeans(sentences, k=cfg.k, seed=cfg.seed, model=cfg.spacy_model)
        meta = {"method": cfg.method, "teacher": cfg.spacy_model, "k": cfg.k, "seed": cfg.seed}
    write_pseudo_corpus(out, tagged, {**meta, "source": str(cfg.corpus or cfg.dataset)}, overwrite)
    click.echo(f"wrote {out} ({len(tagged)} sentences)")


@click.command("migrate")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="the migrated .mtpfa (one adapter); a report NEW.mtpfa.report.json lands beside it")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="several adapters (or none named: every one of --from): OUT_DIR/NAME.mtpfa each")
@click.option("--overwrite", is_flag=True, help="replace existing outputs")
@needs("train")
@friendly
@settings_options(MigrateConfig)
def migrate_cmd(out, out_dir, overwrite, cfg) -> None:
    """System side: move app adapters to a new backbone without labels (the old backbone + adapter teach a LoRA
    and head on the new one); one JSON result line per adapter. docs/migration.md."""
    from ..formats.bundle import read_bundle_manifest
    from ..training.migrate.migrate import migrate_adapter
    from .text_input import read_pairs, read_texts

    names = list(cfg.adapters) or sorted(read_bundle_manifest(Path(cfg.from_bundle)).get("adapters", {}))
    if not names:
        raise MtpfError(f"--from {cfg.from_bundle} lists no adapter; name one with --adapter")
    if (out is None) == (out_dir is None) or (out is not None and len(names) > 1):
        raise MtpfError("give --out for one adapter, or --out-dir for several")
    lines = read_texts(Path(cfg.texts))
    failed = 0
    for name in names:
        from ..runtime import SystemModel  # the task decides how --texts reads: texts, or pairs

        task = SystemModel.load(cfg.from_bundle).load_adapter(name).task
        inputs = read_pairs(lines, Path(cfg.texts)) if task in ("pair-tc", "sts") else [t for t in lines if t.strip()]
        target = out if out is not None else out_dir / f"{Path(name).stem}.mtpfa"
        try:
            report = migrate_adapter(cfg, name, target, inputs, log=log, overwrite=overwrite)
            click.echo(json.dumps({"adapter": name, "status": "migrated", "out": str(target),
                                   "agreement": report["agreement"]["score"], "texts": report["texts"]}))
        except MtpfError as exc:
            if len(names) == 1:
                raise
            failed += 1
            click.echo(json.dumps({"adapter": name, "status": "refused", "reason": str(exc)}))
    if failed:
        raise MtpfError(f"{failed} of {len(names)} adapters were not migrated (lines above)")
