"""The accuracy gate of an int8 export: for each adapter given a dev set, the task metric of what ships
(``evaluation/shipped.py``: the runtime's entities or labels) on the int8 bundle beside an fp32 bundle
of the same backbone and adapter, and how often the two agree. Past ``--gate-max-drop`` points of
metric lost the export is refused (nothing is written)."""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from ..data.registry import get_spec, load_split, split_names
from ..data.splits import NER_FORMATS, read_file
from ..errors import MtpfError
from ..evaluation.shipped import accuracy, agreement, entity_prf, runtime_entities, runtime_labels, text_and_gold

GATED_TASKS = ("ner", "tc")


def parse_gate_specs(specs: list[str], adapters: dict[str, Path]) -> dict[str, str]:
    """``NAME=FILE`` or ``NAME=DATASET`` (a registered dataset: its dev split, else test) per adapter."""
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, source = spec.partition("=")
        name, source = name.strip(), source.strip()
        if not sep or not name or not source:
            raise MtpfError(f"--gate-data {spec!r}: give ADAPTER=FILE or ADAPTER=DATASET")
        if name not in adapters:
            raise MtpfError(f"--gate-data {spec!r}: no adapter {name!r} in this export (have {', '.join(adapters) or 'none'})")
        out[name] = source
    return out


def gate_examples(task: str, source: str, fmt: str | None, data_root: str | None) -> list:
    """The dev examples of ``source`` for an adapter of ``task``."""
    where = f"--gate-data {source}"
    if not Path(source).exists():
        try:
            spec = get_spec(source)
        except MtpfError:
            raise MtpfError(f"{where}: no such file, and not a registered dataset (see `mtpf-deploy datasets`)") from None
        if spec.task != task:
            raise MtpfError(f"{where}: a {spec.task} dataset, but the adapter is {task}")
        if data_root is None:
            raise MtpfError(f"{where}: a registered dataset needs --data-root")
        names = split_names(source)
        return load_split(source, "dev" if "dev" in names else "test", data_root)
    if task == "ner":
        fmt = NER_FORMATS[0]  # token<TAB>tag lines
    elif fmt is None:
        raise MtpfError(f"{where}: give --gate-format for a {task} file")
    elif fmt in NER_FORMATS:
        raise MtpfError(f"{where}: format {fmt!r} does not fit a {task} adapter")
    records = read_file(source, fmt, "dev")
    if not records:
        raise MtpfError(f"{where}: no examples")
    return records


def score(system, name: str, task: str, examples: list) -> tuple[float, list]:
    """(metric in points, predictions) of the runtime's outputs."""
    if task == "ner":
        texts, gold = zip(*(text_and_gold(s) for s in examples))
        pred = runtime_entities(system, name, texts, f"gate {name}")
        return 100 * entity_prf(gold, pred)["f1"], pred
    labels = runtime_labels(system, name, [x.text for x in examples])
    return 100 * accuracy(labels, examples), labels


def load_gate_examples(tasks: dict[str, str], sources: dict[str, str], fmt: str | None,
                       data_root: str | None) -> dict[str, list]:
    """Each gated adapter's dev examples (read before the export's slow part, so a bad one fails fast)."""
    for name in sources:
        if tasks[name] not in GATED_TASKS:
            raise MtpfError(f"--gate-data {name}: the gate scores {' and '.join(GATED_TASKS)} adapters, not {tasks[name]}")
    return {name: gate_examples(tasks[name], source, fmt, data_root) for name, source in sources.items()}


def run_gate(bundle: Path, export_fp32: Callable[[Path], object], tasks: dict[str, str], sources: dict[str, str],
             examples: dict[str, list], max_drop: float, log: Callable[[str], None]) -> dict:
    """Score each gated adapter on ``bundle`` (int8) and on the fp32 bundle ``export_fp32(folder)`` writes
    for the comparison; returns the manifest's ``accuracy_gate`` record, or raises past ``max_drop``."""
    from ..runtime import SystemModel

    report: dict = {"max_drop_points": max_drop, "adapters": {}}
    with tempfile.TemporaryDirectory(prefix=".gate-", dir=bundle.parent) as tmp:
        log("accuracy gate: exporting an fp32 reference bundle ...")
        reference = Path(tmp) / "fp32"
        export_fp32(reference)
        ref_system, system = SystemModel.load(reference, threads=1), SystemModel.load(bundle, threads=1)
        for name, task in ((n, tasks[n]) for n in sources):
            fp32, ref_pred = score(ref_system, name, task, examples[name])
            int8, pred = score(system, name, task, examples[name])
            agree = 100 * (entity_prf(ref_pred, pred)["f1"] if task == "ner" else agreement(ref_pred, pred))
            metric = "entity F1" if task == "ner" else "accuracy"
            entry = {"data": sources[name], "examples": len(examples[name]), "metric": metric, "fp32": round(fp32, 3),
                     "int8": round(int8, 3), "drop": round(fp32 - int8, 3), "agreement": round(agree, 3)}
            report["adapters"][name] = entry
            log(f"accuracy gate: {name}: {metric} fp32 {fp32:.2f}, int8 {int8:.2f} (drop {fp32 - int8:.2f} points), "
                f"int8 agrees with fp32 on {agree:.2f} % ({len(examples[name])} examples of {sources[name]})")
            if fp32 - int8 > max_drop:
                raise MtpfError(f"accuracy gate: adapter {name} loses {fp32 - int8:.2f} points of {metric} in int8 "
                                f"({fp32:.2f} -> {int8:.2f} on {sources[name]}), more than --gate-max-drop {max_drop}; "
                                "nothing was written. Try --int8-keep-fp32 ffn_out or --precision fp32")
    return report
