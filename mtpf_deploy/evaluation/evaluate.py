"""Run a suite's cells against one backbone (and optionally a pre-finetuning run's task-primary LoRAs).

NER cell: ``adapt ner``'s protocol (LoRA r32/α64 + head, initialised from the run's NER LoRA when there
is one) on a seeded fraction of train, entity F1 on test. TC cell: the MTEB protocol (logistic regression
on mean-pooled embeddings, the run's TC LoRA active) at ``samples_per_label``, accuracy on test.

Resumable: each finished cell is one JSON file in ``OUT/cells/``; a re-run skips those. A failing cell
is reported (``OUT/errors.json``) and the others still run."""
from __future__ import annotations

import json
import platform
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .. import __version__
from ..backbones import resolve_backbone
from ..errors import MtpfError
from ..formats.atomic import atomic_file
from ..formats.hashing import backbone_weights_sha256
from .suites import Cell, DatasetEntry, Suite

CELL_SCHEMA = "mtpf-eval-cell/1"


@dataclass(frozen=True)
class Model:
    """What is evaluated: a backbone folder and the task-primary LoRAs a run left (if any)."""

    backbone: str
    ner_lora: str | None = None
    tc_lora: str | None = None
    run: str | None = None

    @classmethod
    def from_args(cls, backbone: str | None, run: str | Path | None) -> Model:
        if run is None:
            return cls(backbone or "default")
        run = Path(run)
        if not (run / "backbone").is_dir():
            raise MtpfError(f"--run {run}: no backbone/ folder (is it a finished `mtpf-deploy pretrain` run?)")
        lora = {f: str(run / "adapters" / f) if (run / "adapters" / f).is_dir() else None for f in ("ner", "tc")}
        return cls(backbone or str(run / "backbone"), lora["ner"], lora["tc"], str(run))

    def identity(self) -> dict:
        sha = backbone_weights_sha256(resolve_backbone(self.backbone))
        return {"backbone": self.backbone, "backbone_sha256": sha, "run": self.run,
                "ner_lora": self.ner_lora, "tc_lora": self.tc_lora}


def _eval_subset(records: list, max_eval: int) -> list:
    """At most ``max_eval`` records, the same seeded subset for every model and seed (0: all)."""
    if not max_eval or len(records) <= max_eval:
        return records
    idx = sorted(np.random.default_rng(12345).choice(len(records), max_eval, replace=False))
    return [records[i] for i in idx]


class Evaluator:
    """Runs cells for one model; splits and TC embeddings are cached per dataset within the process."""

    def __init__(self, model: Model, suite: Suite, data_root: Path | None, device: str = "cpu",
                 log: Callable[[str], None] = print):
        self.model, self.suite, self.data_root, self.device, self.log = model, suite, data_root, device, log
        self._splits: dict[str, dict] = {}
        self._tc_cache: dict[str, dict] = {}

    def splits(self, entry: DatasetEntry) -> dict[str, list]:
        from ..data.splits import load_task_splits

        if entry.name not in self._splits:
            if entry.files:
                splits = load_task_splits(entry.task, files=entry.files, fmt=entry.format)
            else:
                if self.data_root is None:
                    raise MtpfError(f"dataset {entry.name!r} is registered: pass --data-root (e.g. ../shared/data)")
                splits = load_task_splits(entry.task, entry.name, self.data_root)
            if "test" not in splits:
                raise MtpfError(f"dataset {entry.name!r} has no test split")
            splits["test"] = _eval_subset(splits["test"], entry.max_eval)
            self._splits[entry.name] = splits
        return self._splits[entry.name]

    def run_cell(self, cell: Cell) -> dict:
        return self._ner(cell) if cell.entry.task == "ner" else self._tc(cell)

    def _ner(self, cell: Cell) -> dict:
        from ..training.adapt.config import NerAdaptConfig
        from ..training.adapt.ner import adapt_ner

        splits = self.splits(cell.entry)
        cfg = NerAdaptConfig.from_dict({**self.suite.ner, "backbone": self.model.backbone,
                                        "init_adapter": self.model.ner_lora, "train_fraction": float(cell.point),
                                        "seed": cell.seed, "device": self.device}, f"suite {self.suite.name}: [ner]")
        with tempfile.TemporaryDirectory() as tmp:
            metrics = adapt_ner(cfg, {"train": splits["train"], "test": splits["test"]}, Path(tmp) / "adapter",
                                log=lambda m: None if not m.startswith("warning") else self.log(m))
        test = metrics["test"]
        out = {"metric": "f1", "value": test["f1"], "precision": test["precision"], "recall": test["recall"],
               "train_examples": metrics["train_sentences"], "eval_examples": test["sentences"]}
        if "shipped" in test:  # the F1 of the runtime's entities (evaluation/shipped.py) beside seqeval's
            out["shipped_f1"] = test["shipped"]["f1"]
        return out

    def _tc(self, cell: Cell) -> dict:
        from ..training.adapt.config import TcAdaptConfig
        from ..training.adapt.tc import embed_texts, mteb_protocol, mteb_samples

        cfg = TcAdaptConfig.from_dict({**self.suite.tc, "backbone": self.model.backbone, "embed_adapter": self.model.tc_lora,
                                       "samples_per_label": str(cell.point), "seed": cell.seed, "device": self.device},
                                      f"suite {self.suite.name}: [tc]")
        cache = self._tc_encoder(cell.entry, cfg)
        splits, tok, encoder = cache["splits"], cache["tok"], cache["encoder"]
        y = np.array([t.label for t in splits["train"]])
        if len(set(y)) < 2:
            raise MtpfError(f"dataset {cell.entry.name!r}: train has fewer than 2 labels")
        per_label = cfg.per_label or len(y)
        samples = mteb_samples(y, per_label, cfg.n_experiments, cfg.seed)
        need = sorted({int(i) for idx in samples for i in idx} - cache["vectors"].keys())
        if need:
            vectors = embed_texts(encoder, tok, [splits["train"][i].text for i in need], cfg.max_length,
                                  cfg.batch_size, cfg.normalize, cfg.device, "embedding train samples")
            cache["vectors"].update(zip(need, vectors))
        x = np.zeros((len(y), cache["test_x"].shape[1]), dtype=np.float32)
        for i, v in cache["vectors"].items():
            x[i] = v
        result = mteb_protocol(x, y, cache["test_x"], cache["test_y"], per_label, cfg.n_experiments, cfg.max_iter,
                               cfg.seed)
        return {"metric": "accuracy", "value": result["accuracy"], "accuracy_std": result["accuracy_std"],
                "f1_macro": result["f1_macro"], "n_experiments": result["n_experiments"],
                "train_examples": int(np.mean([len(idx) for idx in samples])), "eval_examples": len(cache["test_y"])}

    def _tc_encoder(self, entry: DatasetEntry, cfg) -> dict:
        """Encoder (with the TC LoRA), tokenizer and test embeddings of a dataset, computed once."""
        from ..data.tokenization import load_tokenizer
        from ..training.adapt.tc import embed_texts, encoder_with_adapter

        if entry.name not in self._tc_cache:
            self._tc_cache.clear()  # one dataset's embeddings at a time
            splits = self.splits(entry)
            backbone_dir = resolve_backbone(cfg.backbone)
            tok = load_tokenizer(backbone_dir)
            encoder = encoder_with_adapter(cfg, backbone_dir)
            test_x = embed_texts(encoder, tok, [t.text for t in splits["test"]], cfg.max_length, cfg.batch_size,
                                 cfg.normalize, cfg.device, f"embedding {entry.name} test")
            self._tc_cache[entry.name] = {"splits": splits, "tok": tok, "encoder": encoder, "test_x": test_x,
                                          "test_y": [t.label for t in splits["test"]], "vectors": {}}
        return self._tc_cache[entry.name]


def evaluate(model: Model, suite: Suite, out: Path, data_root: Path | None = None, device: str = "cpu",
             baseline: dict | None = None, log: Callable[[str], None] = print) -> dict:
    """Run every cell of ``suite`` not already in ``out/cells``; write ``results.json`` + ``results.md``."""
    from .report import collect, write_results

    out = Path(out)
    identity = model.identity()
    state = out / "model.json"
    if state.exists():
        before = json.loads(state.read_text())
        if before.get("backbone_sha256") != identity["backbone_sha256"] or before.get("run") != identity["run"]:
            raise MtpfError(f"--out {out} holds results of another model ({before.get('run') or before.get('backbone')}, "
                            f"weights {str(before.get('backbone_sha256'))[:12]}…): pass another --out")
    (out / "cells").mkdir(parents=True, exist_ok=True)
    with atomic_file(state) as tmp:
        tmp.write_text(json.dumps(identity, indent=2) + "\n")
    evaluator = Evaluator(model, suite, data_root, device, log)
    cells = suite.cells()
    todo = [c for c in cells if not (out / "cells" / f"{c.key}.json").exists()]
    if len(todo) < len(cells):
        log(f"{len(cells) - len(todo)} of {len(cells)} cells already done in {out / 'cells'}; running {len(todo)}")
    errors = {}
    bar = tqdm(todo, desc=f"evaluate ({suite.name})", unit="cell", dynamic_ncols=True)
    for cell in bar:
        bar.set_postfix_str(cell.key)
        start = time.perf_counter()
        try:
            result = evaluator.run_cell(cell)
        except Exception as exc:  # noqa: BLE001 - one failing cell must not stop the others
            message = str(exc) if isinstance(exc, MtpfError) else f"{type(exc).__name__}: {exc}"
            errors[cell.key] = {"error": message, "traceback": traceback.format_exc()}
            log(f"warning: cell {cell.key} failed: {message}")
            continue
        record = {"schema": CELL_SCHEMA, "cell": cell.key, "task": cell.entry.task, "dataset": cell.entry.name,
                  "setting": cell.setting, "point": cell.point, "seed": cell.seed, "max_eval": cell.entry.max_eval,
                  **result, "seconds": round(time.perf_counter() - start, 1), "suite": suite.name,
                  "model": identity, "protocol": suite.ner if cell.entry.task == "ner" else suite.tc,
                  "versions": {"mtpf_deploy": __version__, "python": platform.python_version()}}
        with atomic_file(out / "cells" / f"{cell.key}.json") as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
        log(f"{cell.key}: {result['metric']} {result['value']:.4f} ({record['seconds']:.0f} s)")
    with atomic_file(out / "errors.json") as tmp:
        tmp.write_text(json.dumps(errors, indent=2) + "\n")
    results = collect(out, suite)
    write_results(out, results, baseline)
    return {"results": results, "errors": errors}
