"""Evaluation suites: which datasets, fractions and seeds ``mtpf-deploy evaluate`` runs (torch-free).

A suite is a built-in profile (``quick``, ``standard``, ``reproduction``) or a TOML file::

    name = "my-suite"
    seeds = [0, 1, 2]                 # default seeds of every dataset
    [ner]                             # `adapt ner` settings for every NER cell (keys as its flags)
    epochs = 30
    [tc]                              # MTEB protocol settings for every TC cell
    n_experiments = 10
    [[dataset]]
    name = "conll2003"                # a registered dataset (`mtpf-deploy datasets`) ...
    fractions = [0.01, 0.1]           # NER: seeded fractions of train (low-resource setting)
    max_eval = 2000                   # evaluate on a seeded subset of at most this many test examples
    [[dataset]]
    name = "my-intents"               # ... or files: task, train, test (and format) are then required
    task = "tc"
    train = "intents/train.csv"       # relative to the suite file
    test = "intents/test.csv"
    samples_per_label = [8, 16]       # TC: MTEB undersampling per label (or "all")
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..data.registry import REGISTRY
from ..data.splits import NER_FORMATS, TC_FORMATS
from ..errors import MtpfError
from ..formats.tasks import EVALUATED_TASKS
from ..training.adapt.config import NerAdaptConfig, TcAdaptConfig

TASKS = EVALUATED_TASKS  # the task kinds with a downstream protocol (formats/tasks.py)
# settings a suite may not change: they name the model or where its output goes
_FIXED = {"backbone", "init_adapter", "adapter", "seed", "train_fraction", "samples_per_label", "device"}


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset of a suite and the grid of cells it contributes."""

    name: str
    task: str
    seeds: tuple[int, ...]
    fractions: tuple[float, ...] = (1.0,)  # NER
    samples_per_label: tuple[str, ...] = ("8",)  # TC
    max_eval: int = 0  # 0: the whole test split
    files: dict[str, str] = field(default_factory=dict)  # train/dev/test paths for a dataset given by files
    format: str | None = None

    def cells(self) -> list[Cell]:
        points = self.fractions if self.task == "ner" else self.samples_per_label
        return [Cell(self, p, s) for p in points for s in self.seeds]


@dataclass(frozen=True)
class Cell:
    """One (dataset, fraction or samples per label, seed) evaluation."""

    entry: DatasetEntry
    point: float | str
    seed: int

    @property
    def setting(self) -> str:
        return f"{self.point:g} of train" if self.entry.task == "ner" else f"{self.point}/label"

    @property
    def key(self) -> str:
        point = f"f{self.point:g}" if self.entry.task == "ner" else f"n{self.point}"
        return f"{self.entry.task}-{self.entry.name}-{point}-s{self.seed}"


@dataclass(frozen=True)
class Suite:
    name: str
    datasets: tuple[DatasetEntry, ...]
    ner: dict = field(default_factory=dict)  # NerAdaptConfig overrides
    tc: dict = field(default_factory=dict)  # TcAdaptConfig overrides
    source: str = "built-in"

    def cells(self) -> list[Cell]:
        return [c for d in self.datasets for c in d.cells()]


NER_PAPER = ("conll2003", "wnut17", "mit_restaurant", "jnlpba")
TC_STANDARD = ("banking77", "emotion", "amazon_counterfactual", "sst2", "sst5", "trec", "snips_intent", "atis_intent",
               "financial_phrasebank", "tweeteval_emotion", "tweeteval_hate", "tweeteval_offensive",
               "tweeteval_stance_climate", "ag_news", "dbpedia14", "imdb", "mr")

BUILTIN: dict[str, dict] = {
    # about 5 minutes on 2 CPU cores (docs/evaluation.md): one seed, capped test splits
    "quick": {"name": "quick", "seeds": [0], "dataset": [
        {"name": "conll2003", "fractions": [0.01], "max_eval": 500},
        {"name": "wnut17", "fractions": [0.05], "max_eval": 500},
        {"name": "banking77", "samples_per_label": [8], "max_eval": 1000},
        {"name": "emotion", "samples_per_label": [8], "max_eval": 1000}],
        "tc": {"n_experiments": 5}},
    # the paper's NER sets at 1 % of train and the TC sets at 8/label, 3 seeds, capped test splits
    "standard": {"name": "standard", "seeds": [0, 1, 2], "dataset": [
        *({"name": n, "fractions": [0.01], "max_eval": 1000} for n in NER_PAPER),
        *({"name": n, "samples_per_label": [8], "max_eval": 1000} for n in TC_STANDARD)]},
    # the issue-8 bar: CoNLL-2003 at 1 % and Banking77 at 8/label, full test splits, 3 seeds
    "reproduction": {"name": "reproduction", "seeds": [0, 1, 2], "dataset": [
        {"name": "conll2003", "fractions": [0.01]},
        {"name": "banking77", "samples_per_label": [8]}]},
}


def load_suite(spec: str | Path) -> Suite:
    """A built-in suite by name, or a TOML suite file."""
    if str(spec) in BUILTIN:
        return parse_suite(BUILTIN[str(spec)], "built-in", Path("."))
    path = Path(spec)
    if not path.is_file():
        raise MtpfError(f"--suite {spec}: not a built-in suite ({', '.join(BUILTIN)}) nor a file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MtpfError(f"{path}: not valid TOML ({exc})") from None
    return parse_suite(data, str(path), path.parent)


def _list(value, what: str, where: str) -> list:
    value = value if isinstance(value, list) else [value]
    if not value:
        raise MtpfError(f"{where}: {what} is empty")
    return value


def _protocol(data: dict, cls: type, where: str) -> dict:
    if not isinstance(data, dict):
        raise MtpfError(f"{where}: expected a table of settings")
    known = {f.name for f in fields(cls)} - _FIXED
    out = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in known:
            raise MtpfError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(known))})")
        out[name] = value
    try:
        cls.from_dict(out, where)  # types, choices and ranges, with the field named
    except MtpfError as exc:
        raise MtpfError(str(exc) if str(exc).startswith(where) else f"{where}: {exc}") from None
    return out


def parse_suite(data: dict, source: str, base: Path) -> Suite:
    """Validate a suite's data; every error names the file and the dataset entry."""
    unknown = set(data) - {"name", "seeds", "dataset", "ner", "tc"}
    if unknown:
        raise MtpfError(f"{source}: unknown key(s) {', '.join(sorted(unknown))} (expected name, seeds, ner, tc, "
                        "[[dataset]])")
    seeds = _list(data.get("seeds", [0]), "seeds", source)
    entries = []
    for i, d in enumerate(_list(data.get("dataset", []), "[[dataset]]", source), start=1):
        label = d.get("name", "?") if isinstance(d, dict) else repr(d)
        where = f"{source}: dataset {i} ({label})"
        if not isinstance(d, dict) or not isinstance(d.get("name"), str) or not d["name"]:
            raise MtpfError(f"{where}: each [[dataset]] needs a name")
        entries.append(_entry(d, seeds, base, where))
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise MtpfError(f"{source}: dataset names repeat: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
    return Suite(str(data.get("name", Path(source).stem)), tuple(entries),
                 _protocol(data.get("ner", {}), NerAdaptConfig, f"{source}: [ner]"),
                 _protocol(data.get("tc", {}), TcAdaptConfig, f"{source}: [tc]"), source)


def _entry(d: dict, seeds: list, base: Path, where: str) -> DatasetEntry:
    allowed = {"name", "task", "seeds", "fractions", "samples_per_label", "max_eval", "train", "dev", "test", "format"}
    unknown = set(d) - allowed
    if unknown:
        raise MtpfError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(allowed))})")
    files = {k: str((base / d[k]).resolve()) if not Path(d[k]).is_absolute() else d[k]
             for k in ("train", "dev", "test") if k in d}
    name = d["name"]
    if files:
        task = d.get("task")
        if task not in TASKS:
            raise MtpfError(f"{where}: a dataset given by files needs task = \"ner\" or \"tc\"")
        if "train" not in files or "test" not in files:
            raise MtpfError(f"{where}: a dataset given by files needs train and test")
        for split, path in files.items():
            if not Path(path).is_file():
                raise MtpfError(f"{where}: {split} file {path} does not exist")
        formats = NER_FORMATS if task == "ner" else TC_FORMATS
        if d.get("format") is not None and d["format"] not in formats:
            raise MtpfError(f"{where}: format {d['format']!r} is not a {task} format ({', '.join(formats)})")
    else:
        if name not in REGISTRY:
            raise MtpfError(f"{where}: unknown dataset {name!r} (not registered — see `mtpf-deploy datasets` — "
                            "and no train/test files given)")
        task = REGISTRY[name].task
        if task not in TASKS:
            raise MtpfError(f"{where}: dataset {name!r} is a {task} dataset; suites evaluate ner or tc")
        if d.get("task", task) != task:
            raise MtpfError(f"{where}: dataset {name!r} is a {task} dataset, not {d['task']}")
    entry_seeds = _list(d.get("seeds", seeds), "seeds", where)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in entry_seeds):
        raise MtpfError(f"{where}: seeds must be non-negative integers, not {entry_seeds}")
    max_eval = d.get("max_eval", 0)
    if not isinstance(max_eval, int) or isinstance(max_eval, bool) or max_eval < 0:
        raise MtpfError(f"{where}: max_eval must be a non-negative integer (0: whole test split), not {max_eval!r}")
    fractions: tuple[float, ...] = (1.0,)
    per_label: tuple[str, ...] = ("8",)
    if task == "ner":
        if "samples_per_label" in d:
            raise MtpfError(f"{where}: samples_per_label is for tc datasets; ner datasets take fractions")
        fractions = tuple(_list(d.get("fractions", [1.0]), "fractions", where))
        for f in fractions:
            if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1:
                raise MtpfError(f"{where}: fraction {f!r} must be a number in (0, 1]")
        fractions = tuple(float(f) for f in fractions)
    else:
        if "fractions" in d:
            raise MtpfError(f"{where}: fractions are for ner datasets; tc datasets take samples_per_label")
        per_label = tuple(str(v) for v in _list(d.get("samples_per_label", ["8"]), "samples_per_label", where))
        for v in per_label:
            if v != "all" and not (v.isdigit() and int(v) > 0):
                raise MtpfError(f"{where}: samples_per_label {v!r} must be a positive integer or \"all\"")
    return DatasetEntry(name, task, tuple(entry_seeds), fractions, per_label, max_eval, files, d.get("format"))
