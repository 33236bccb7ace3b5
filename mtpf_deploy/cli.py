"""``mtpf-deploy`` command line (click)."""
from __future__ import annotations

import functools
import sys
import typing
from dataclasses import fields
from pathlib import Path

import click

from . import __version__
from .errors import MtpfError
from .export.config import ExportConfig
from .settings import Settings, defaults, flag_name
from .training.adapt.config import NerAdaptConfig, TcAdaptConfig
from .training.multitask.config import MultitaskConfig
from .training.pretrain.config import PretrainConfig, PseudoLabelConfig


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


def _click_type(hint) -> tuple[object, bool]:
    """(click type, is a bool flag) for a settings field annotation."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if typing.get_origin(hint) is not list and args else hint
    return {int: click.INT, float: click.FLOAT, bool: click.BOOL}.get(base, click.STRING), base is bool


def _shown(value) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return "none" if value is None else str(value)


def settings_options(cls: type[Settings]):
    """Generate one click option per field of a settings dataclass (help, choices and the default shown
    from its metadata), plus ``--config FILE.toml``; the command receives ``cfg``. TOML < flags."""
    hints = typing.get_type_hints(cls)
    default_of = defaults(cls)

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, config_file=None, **kwargs):
            given = {}
            for f in fields(cls):
                value = kwargs.pop(f.name, None)
                for i, _ in enumerate(f.metadata.get("aliases", ())):
                    alias = kwargs.pop(f"{f.name}__alias{i}", None)
                    value = alias if value in (None, ()) and alias not in (None, ()) else value
                if value not in (None, ()):
                    given[f.name] = list(value) if isinstance(value, tuple) else value
            cfg = cls.from_toml(config_file, given) if config_file else cls.from_dict(given, "flags")
            return fn(*args, cfg=cfg, **kwargs)

        options = [click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                                help="TOML file of these settings (keys as the flags, '-' or '_'); flags given win")]
        for f in fields(cls):
            ctype, is_bool = _click_type(hints[f.name])
            choices = f.metadata.get("choices")
            multiple = f.metadata.get("multiple", False)
            if choices and (typing.get_origin(hints[f.name]) is not list or multiple):
                ctype = click.Choice(choices)
            name = flag_name(f)
            decls = [f"--{name}/--no-{name}"] if is_bool else [f"--{name}"]
            options.append(click.option(*decls, f.name, type=None if is_bool else ctype, default=None,
                                        multiple=multiple, help=f.metadata["help"], show_default=_shown(default_of[f.name])))
            for i, alias in enumerate(f.metadata.get("aliases", ())):
                options.append(click.option(f"--{alias.replace('_', '-')}", f"{f.name}__alias{i}", type=ctype,
                                            default=None, hidden=True))
        for opt in reversed(options):
            wrapper = opt(wrapper)
        return wrapper

    return decorate


@click.group()
@click.version_option(__version__, prog_name="mtpf-deploy")
def main() -> None:
    """Ship one small shared text encoder with many small swappable per-app adapters."""
    from .logs import quiet_libraries

    quiet_libraries()


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
        click.option("--out", required=True, type=click.Path(path_type=Path), help="output adapter folder"),
        click.option("--overwrite", is_flag=True, help="replace --out if it exists"),
        click.option("--examples", default=3, show_default=True, help="dev predictions to print from the saved adapter"),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _adapt_and_preview(task, train_fn, preview_fn, cfg, data, out, overwrite, examples) -> None:
    """Read the splits, train, write the adapter folder, then reload it and print a few predictions."""
    from .data.files import load_task_splits

    cfg.validate()
    dataset, data_root, train_file, dev_file, test_file, fmt = data
    splits = load_task_splits(task, dataset, data_root, {"train": train_file, "dev": dev_file, "test": test_file}, fmt)
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
@_friendly
@settings_options(NerAdaptConfig)
def adapt_ner_cmd(dataset, data_root, train_file, dev_file, test_file, fmt, out, overwrite, examples, cfg) -> None:
    """NER: LoRA on query/key/MLP of all layers + token head (head warm-up, then joint training)."""
    from .training.adapt.ner import adapt_ner
    from .training.adapt.preview import preview_ner

    _adapt_and_preview("ner", adapt_ner, preview_ner, cfg, (dataset, data_root, train_file, dev_file, test_file, fmt),
                       out, overwrite, examples)


@adapt.command("tc")
@data_options
@_friendly
@settings_options(TcAdaptConfig)
def adapt_tc_cmd(dataset, data_root, train_file, dev_file, test_file, fmt, out, overwrite, examples, cfg) -> None:
    """Text classification: mean-pooled embeddings -> logistic regression (MTEB protocol)."""
    from .training.adapt.preview import preview_tc
    from .training.adapt.tc import adapt_tc

    _adapt_and_preview("tc", adapt_tc, preview_tc, cfg, (dataset, data_root, train_file, dev_file, test_file, fmt),
                       out, overwrite, examples)


@adapt.command("multitask")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="output folder: adapters/<task>/ (+ backbone/ with --mode full), metrics.json")
@click.option("--overwrite", is_flag=True, help="replace --out if it exists")
@_friendly
@settings_options(MultitaskConfig)
def adapt_multitask_cmd(out, overwrite, cfg) -> None:
    """SST-5 sentiment, paraphrase (MRPC) and STS-B together (the second source): one adapter per task."""
    from .training.multitask.trainer import adapt_multitask, load_multitask_splits

    cfg.validate()
    splits = load_multitask_splits(cfg.tasks, cfg.data_root)
    click.echo(f"adapt multitask ({cfg.mode}, {cfg.task_sampling}, loss {cfg.loss}): "
               + ", ".join(f"{t} {len(s['train'])} train" for t, s in splits.items()))
    metrics = adapt_multitask(cfg, splits, out, overwrite, log=_log)
    for split in ("dev", "test"):
        m = metrics[split]
        if m:
            click.echo(f"{split} (epoch {metrics['best_epoch']}): " + ", ".join(
                f"{t} {v.get('accuracy', v.get('pearson')):.4f}" for t, v in m.items() if t != "total")
                + f", total {m['total']:.4f}")
    click.echo(f"wrote {out} (export: mtpf-deploy export --run {out} --adapters {','.join(cfg.tasks)})")


@main.command("pretrain")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="run folder")
@click.option("--resume", is_flag=True, help="continue from the newest checkpoint in --out")
@click.option("--overwrite", is_flag=True, help="replace --out if it exists")
@_friendly
@settings_options(PretrainConfig)
def pretrain_cmd(out, resume, overwrite, cfg) -> None:
    """System side: pre-finetune the shared backbone (and task-primary LoRAs)."""
    from .training.pretrain.trainer import Pretrainer

    Pretrainer(cfg, out, log=_log).run(resume=resume, overwrite=overwrite)


@main.command("evaluate")
@click.option("--backbone", default=None, help="backbone folder or 'default' (default: the run's backbone/, else 'default')")
@click.option("--run", "run_dir", type=click.Path(file_okay=False, path_type=Path),
              help="a `pretrain` run: its backbone/ and task-primary LoRAs (NER LoRA initialises the NER adapter; "
                   "TC LoRA stays active while embedding)")
@click.option("--suite", default="quick", show_default=True,
              help="quick | standard | reproduction | a suite TOML file (see docs/evaluation.md)")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path),
              help="folder holding the registered datasets (e.g. ../shared/data)")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="results folder (re-running skips the cells already in OUT/cells)")
@click.option("--baseline", type=click.Path(exists=True, path_type=Path),
              help="another evaluation's results.json (or folder): adds Δ columns")
@click.option("--device", default="cpu", show_default=True, help="torch device")
@_friendly
def evaluate_cmd(backbone, run_dir, suite, data_root, out, baseline, device) -> None:
    """Run the downstream protocol of `adapt` over a suite of NER and TC datasets (resumable)."""
    from .evaluation.report import load_results
    from .evaluation.run import Model, evaluate
    from .evaluation.suites import load_suite

    loaded = load_suite(suite)
    base = load_results(baseline) if baseline else None
    model = Model.from_args(backbone, run_dir)
    click.echo(f"evaluate {model.run or model.backbone}: suite {loaded.name}, {len(loaded.cells())} cells -> {out}")
    done = evaluate(model, loaded, out, data_root, device, base, log=_log)
    for task, fam in done["results"]["families"].items():
        click.echo(f"{task.upper()} average over {fam['rows']} dataset settings: {100 * fam['mean']:.1f}")
    click.echo(f"wrote {out / 'results.json'} and {out / 'results.md'}")
    if done["errors"]:
        raise click.ClickException(f"{len(done['errors'])} cell(s) failed: {', '.join(done['errors'])} "
                                   f"(details in {out / 'errors.json'}; re-run to retry them)")


@main.command("analyze")
@click.option("--model", "models", multiple=True, required=True, metavar="NAME=PATH",
              help="a model to measure: 'default', a backbone folder or a `pretrain` run folder; repeatable")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path),
              help="folder holding conll2003/ (its test split is perturbed)")
@click.option("--input", "input_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="or a BIO file of sentences to perturb instead of CoNLL-2003 test")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="output folder")
@click.option("--sentences", type=click.IntRange(min=1), default=2000, show_default=True,
              help="sentences with an entity (seeded choice)")
@click.option("--variants", type=click.IntRange(min=1), default=4, show_default=True, help="perturbations per sentence")
@click.option("--adapter", type=click.Choice(["none", "tc", "ner"]), default="none", show_default=True,
              help="a run's task-primary LoRA to keep active (none: the backbone alone)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@_friendly
def analyze_cmd(models, data_root, input_file, out, sentences, variants, adapter, seed, device) -> None:
    """Paper Sec. 5: entity-swap sentence similarity (Finding 1) and within-sentence token similarity
    (Finding 2) per model; JSON + PNG plots."""
    from .data.bio import read_bio
    from .data.registry import load_split
    from .evaluation.analyze import analyze
    from .evaluation.run import Model

    named = {}
    for spec in models:
        name, sep, path = spec.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not name or not path or "/" in name:
            raise click.BadParameter(f"expected NAME=PATH (NAME without '/'), not {spec!r}", param_hint="--model")
        if name in named:
            raise click.BadParameter(f"model name {name!r} given twice", param_hint="--model")
        is_run = Path(path).is_dir() and (Path(path) / "backbone").is_dir()
        named[name] = Model.from_args(None, path) if is_run else Model(path)
    if input_file is not None:
        corpus = read_bio(input_file)
    elif data_root is not None:
        corpus = load_split("conll2003", "test", data_root)
    else:
        raise MtpfError("give --data-root (CoNLL-2003 test) or --input FILE.bio")
    summary = analyze(named, corpus, out, sentences, variants, seed, adapter, device=device, log=_log)
    click.echo(f"wrote {out / 'analysis.json'}, {out / 'perturbation_similarity.png'}, {out / 'token_similarity.png'} "
               f"({summary['settings']['sentences']} sentences x {variants} variants)")


@main.command("pseudo-label")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="corpus folder to write")
@click.option("--overwrite", is_flag=True, help="replace --out if it exists")
@_friendly
@settings_options(PseudoLabelConfig)
def pseudo_label_cmd(out, overwrite, cfg) -> None:
    """Tag an unlabeled corpus with a teacher (cached for `pretrain --ner-corpus`)."""
    from .data.pairs import read_corpus
    from .data.pseudo_corpus import write_pseudo_corpus
    from .data.registry import load_split
    from .training.pretrain import pseudo_label as pl

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


def _run_backbone(run: Path) -> str:
    """A run's backbone: its backbone/ folder (pretrain, adapt multitask --mode full), else the backbone its
    config.json names (adapt multitask with LoRAs on an unchanged backbone)."""
    import json

    if (run / "backbone").is_dir():
        return str(run / "backbone")
    try:
        return str(json.loads((run / "config.json").read_text())["backbone"])
    except (OSError, ValueError, KeyError, TypeError):
        raise MtpfError(f"--run {run}: no backbone/ folder and no backbone in config.json; pass --backbone") from None


@main.command("export")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="bundle folder to write")
@click.option("--overwrite", is_flag=True, help="replace --out if it exists")
@_friendly
@settings_options(ExportConfig)
def export_cmd(out, overwrite, cfg) -> None:
    """System side: write the bundle (ONNX backbone with LoRA slots + one file per adapter)."""
    from .export.write_bundle import export_bundle, resolve_adapter_specs

    run = Path(cfg.run) if cfg.run else None
    if run is not None and not run.is_dir():
        raise MtpfError(f"--run {run}: not a directory")
    backbone = cfg.backbone or (_run_backbone(run) if run is not None else "default")
    specs = resolve_adapter_specs(cfg.adapters, run)
    options = {"keep_fp32": tuple(cfg.int8_keep_fp32)} if cfg.int8_keep_fp32 else None
    backends = ("onnx", "executorch") if cfg.format == "both" else (cfg.format,)
    export_bundle(backbone, specs, out, cfg.quantize, cfg.max_length, cfg.opset, overwrite, log=_log,
                  int8_options=options, backends=backends, et_max_rank=cfg.et_max_rank,
                  et_quantize=cfg.et_quantize, fuse=cfg.fuse, int8_lora=cfg.int8_lora)
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
    from .export.write_bundle import pack_single

    info = pack_single(bundle, adapter_dir, name, out, overwrite)
    click.echo(f"wrote {out} ({info['task']}, {out.stat().st_size / 1024:.0f} KiB)")


def _read_texts(input_file: Path | None) -> list[str]:
    """One text per line of ``input_file`` (or stdin), strictly UTF-8; errors name the line."""
    raw = sys.stdin.buffer.read() if input_file in (None, Path("-")) else Path(input_file).read_bytes()
    source = "stdin" if input_file in (None, Path("-")) else str(input_file)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise MtpfError(f"{source}: the file is UTF-16; convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)")
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    texts = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            texts.append(line.removesuffix(b"\r").decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise MtpfError(f"{source}:{number}: not valid UTF-8 (byte {line[exc.start]:#04x} at column {exc.start + 1})") from None
    if texts and texts[-1] == "":
        texts.pop()  # the newline that ends the last line
    return texts


def _argument_texts(texts: tuple[str, ...]) -> list[str]:
    """Command-line texts; bytes that are not UTF-8 reach Python as lone surrogates."""
    for i, t in enumerate(texts, start=1):
        try:
            t.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise MtpfError(f"argument {i} is not valid UTF-8 (at character {exc.start + 1}); "
                            "pass UTF-8 text or use --input FILE") from None
    return list(texts)


@main.command("predict")
@click.option("--bundle", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--adapter", required=True, help="adapter name in the bundle, or a .mtpfa path")
@click.option("--input", "input_file", type=click.Path(exists=True, allow_dash=True, dir_okay=False, path_type=Path),
              help="one UTF-8 text per line ('-' or absent with no TEXT: stdin); for a pair adapter (pair-tc, sts) "
                   'one JSON object {"text_a": ..., "text_b": ...} per line')
@click.option("--threads", type=click.IntRange(min=1), default=None, help="intra-op threads (default: ONNX Runtime's)")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--top-k", type=click.IntRange(min=0), default=5, show_default=True,
              help="TC: how many label probabilities to print (0: all)")
@click.option("--backend", type=click.Choice(["onnx", "executorch"]), default="onnx", show_default=True,
              help="which of the bundle's backbones runs (executorch needs `pip install 'mtpf-deploy[executorch]'`)")
@click.argument("texts", nargs=-1)
@_friendly
def predict_cmd(bundle, adapter, input_file, threads, batch_size, top_k, backend, texts) -> None:
    """Run an adapter on texts; prints one JSON object per text (JSONL)."""
    import json
    import time

    from .runtime import SystemModel

    system = SystemModel.load(bundle, threads=threads, backend=backend)
    ad = system.load_adapter(adapter)
    if ad.task in ("pair-tc", "sts"):
        if texts:
            raise MtpfError(f"adapter {ad.name!r} is a {ad.task} adapter: it takes text pairs, one JSON object "
                            '{"text_a": ..., "text_b": ...} per line of --input FILE (or stdin)')
        return _predict_pairs(system, ad, _read_pairs(_read_texts(input_file), input_file), batch_size)
    texts = _argument_texts(texts) if texts else _read_texts(input_file)
    t0 = time.perf_counter()
    if ad.task == "ner":
        results = [{"entities": [e.to_json() for e in r]} for r in system.entities(texts, ad, batch_size)]
    elif ad.task == "tc":
        results = []
        for c in system.classify(texts, ad, batch_size):
            r = c.to_json()
            if top_k:
                r["probabilities"] = dict(sorted(r["probabilities"].items(), key=lambda kv: -kv[1])[:top_k])
            results.append(r)
    else:
        results = [{"embedding": v.tolist()} for v in system.embed(texts, ad, batch_size=batch_size)]
    ms = (time.perf_counter() - t0) * 1000
    for text, r in zip(texts, results):
        click.echo(json.dumps({"text": text, "adapter": ad.name, **r}, ensure_ascii=False))
    click.echo(f"{len(texts)} text(s) in {ms:.1f} ms ({ms / max(len(texts), 1):.1f} ms/text)", err=True)


def _read_pairs(lines: list[str], input_file: Path | None) -> list[tuple[str, str]]:
    """JSONL text pairs: each line an object with string fields text_a and text_b (errors name the line)."""
    import json

    source = "stdin" if input_file in (None, Path("-")) else str(input_file)
    pairs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise MtpfError(f"{source}:{number}: not a JSON object ({exc.msg})") from None
        if not isinstance(obj, dict) or not all(isinstance(obj.get(k), str) for k in ("text_a", "text_b")):
            raise MtpfError(f"{source}:{number}: expected an object with string fields text_a and text_b")
        pairs.append((obj["text_a"], obj["text_b"]))
    return pairs


def _predict_pairs(system, ad, pairs: list[tuple[str, str]], batch_size: int) -> None:
    import json
    import time

    t0 = time.perf_counter()
    if ad.task == "sts":
        results = [{"score": s} for s in system.similarity(pairs, ad, batch_size)]
    else:
        results = [c.to_json() for c in system.classify_pairs(pairs, ad, batch_size)]
    ms = (time.perf_counter() - t0) * 1000
    for (a, b), r in zip(pairs, results):
        click.echo(json.dumps({"text_a": a, "text_b": b, "adapter": ad.name, **r}, ensure_ascii=False))
    click.echo(f"{len(pairs)} pair(s) in {ms:.1f} ms ({ms / max(len(pairs), 1):.1f} ms/pair)", err=True)


@main.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--bundle", type=click.Path(exists=True, file_okay=False, path_type=Path), help="check an adapter against this bundle")
@_friendly
def inspect_cmd(path, bundle) -> None:
    """Show a bundle's or an adapter file's manifest and sizes; verify the backbone hash (bundle) or the
    adapter's fit to ``--bundle``."""
    import json

    from .formats.adapter_file import read_adapter_file
    from .formats.bundle import bundle_path, read_bundle_manifest, verified_file

    if path.is_dir() or path.suffix == ".onnx":
        folder = path if path.is_dir() else path.parent
        m = read_bundle_manifest(folder)
        bb = m["backbone"]
        backends = m.get("backends", ["onnx"])
        click.echo(f"bundle {folder}  backends {', '.join(backends)}")
        click.echo(f"  layers {bb['num_layers']}  hidden {bb['hidden_size']}  max length {bb['max_length']}  "
                   f"{len(bb['slots'])} LoRA slots  weights {bb['weights_sha256']}")
        files = []
        if "onnx" in backends:
            files.append((bb["file"], bb["sha256"], "backbone file", f"{bb.get('precision')}, opset {bb.get('opset')}"))
        if "executorch" in backends:
            et = m["executorch"]
            files += [(et[k], et[f"{k}_sha256"], f"ExecuTorch {k} file", f"{et['precision']}, max rank {et['max_rank']}")
                      for k in ("program", "data")]
        for rel, sha, label, what in files:
            model = verified_file(folder, rel, sha, label)
            click.echo(f"  {label} {rel}  {model.stat().st_size / 1e6:.1f} MB  {what}  sha256 {sha}")
        click.echo("  every backbone file matches the manifest's sha256")
        for name, rel in m.get("adapters", {}).items():
            target = bundle_path(folder, rel, f"bundle {folder}: adapters.{name}")
            size = f"{target.stat().st_size / 1024:.0f} KiB" if target.is_file() else "MISSING"
            click.echo(f"  adapter {name}: {rel} ({size})")
        return
    af = read_adapter_file(path)
    click.echo(json.dumps(af.manifest, indent=2, sort_keys=True))
    click.echo(f"file size {path.stat().st_size / 1024:.1f} KiB")
    if bundle is not None:
        af.check_fits(read_bundle_manifest(bundle)["backbone"])
        click.echo(f"backbone hash matches {bundle}; LoRA slots and head width fit it")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def _int_list(ctx, param, value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        out = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, not {value!r}") from None
    if not out or min(out) < 1:
        raise click.BadParameter(f"expected positive integers, not {value!r}")
    return out


@main.command("bench")
@click.option("--bundle", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--adapter", default=None, help="adapter name in the bundle (default: its first NER adapter)")
@click.option("--backbone", default=None,
              help="the bundle's backbone source for the torch baselines (default: the manifest's source)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("bench_out"), show_default=True,
              help="folder for bench.json, bench.md and the plots")
@click.option("--quick", is_flag=True, help="seconds-long smoke run: 2 lengths, 1 thread, 3 repeats")
@click.option("--lengths", callback=_int_list, default=None, help="comma list of token lengths (default 16,32,64,128,256)")
@click.option("--threads", callback=_int_list, default=None, help="comma list of thread counts (default 1,2)")
@click.option("--repeats", type=click.IntRange(min=1), default=None, help="timed rounds per point (default 30)")
@click.option("--no-baselines", is_flag=True, help="only the bundle's own variants (no torch needed)")
@click.option("--compare", multiple=True, metavar="NAME=MODEL.onnx",
              help="another ONNX encoder to time beside ours (e.g. an optimum export); repeatable")
@_friendly
def bench_cmd(bundle, adapter, backbone, out, quick, lengths, threads, repeats, no_baselines, compare) -> None:
    """Benchmark a bundle next to what users would ship instead (see docs/benchmarks.md)."""
    import dataclasses
    import os
    import shlex

    # OpenMP (PyTorch) threads spin-wait by default and would steal the cores from the variant timed
    # next; set before torch loads (the ONNX Runtime sessions get the same via allow_spinning=0)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from .bench.report import write_report
    from .bench.run import QUICK, BenchSettings, run_bench

    settings = dataclasses.replace(QUICK if quick else BenchSettings(),
                                   **{k: v for k, v in (("lengths", lengths), ("threads", threads), ("repeats", repeats))
                                      if v is not None})
    others = {}
    for spec in compare:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise click.BadParameter(f"expected NAME=MODEL.onnx, not {spec!r}", param_hint="--compare")
        others[name.strip()] = Path(path.strip())
    result = run_bench(bundle, settings, adapter, backbone, with_baselines=not no_baselines, compare=others, log=_log)
    command = ["mtpf-deploy", "bench", "--bundle", str(bundle), "--out", str(out)]
    for flag, value in (("--adapter", adapter), ("--backbone", backbone), ("--lengths", lengths), ("--threads", threads),
                        ("--repeats", repeats)):
        if value is not None:
            command += [flag, ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    for name, path in others.items():
        command += ["--compare", f"{name}={path}"]
    command += ["--quick"] * quick + ["--no-baselines"] * no_baselines
    files = write_report(result, out, shlex.join(command))
    for t in result["targets"]:
        met = "not measured" if t["met"] is None else ("met" if t["met"] else "NOT met")
        value = "—" if t["value"] is None else f"{t['value']:.3f}"
        _log(f"{t['target']}: {value} ({t['direction']} {t['limit']}) {met}")
    _log(f"wrote {', '.join(str(out / f) for f in files)}")
