"""Settings of ``evaluate`` and ``analyze`` (torch-free: the CLI builds its flags from them)."""
from __future__ import annotations

from dataclasses import dataclass

from ..settings import Settings, setting


@dataclass
class EvaluateConfig(Settings):
    backbone: str | None = setting(None, "backbone folder or 'default'",
                                  default_text="the run's backbone/, else 'default'")
    run: str | None = setting(None, "a `pretrain` run: its backbone/ and task-primary LoRAs (NER LoRA initialises the "
                                    "NER adapter; TC LoRA stays active while embedding)", path="dir")
    suite: str = setting("quick", "quick | standard | reproduction | a suite TOML file (see docs/evaluation.md)")
    data_root: str | None = setting(None, "folder holding the registered datasets (e.g. ../shared/data)", path="dir")
    baseline: str | None = setting(None, "another evaluation's results.json (or folder): adds Δ columns")
    device: str = setting("cpu", "torch device")


@dataclass
class AnalyzeConfig(Settings):
    models: list[str] = setting([], "a model to measure as NAME=PATH: 'default', a backbone folder or a `pretrain` run "
                                    "folder; repeatable", flag="model", multiple=True, required=True)
    data_root: str | None = setting(None, "folder holding conll2003/ (its test split is perturbed)", path="dir")
    input: str | None = setting(None, "or a BIO file of sentences to perturb instead of CoNLL-2003 test")
    sentences: int = setting(2000, "sentences with an entity (seeded choice)", bounds=(1, None))
    variants: int = setting(4, "perturbations per sentence", bounds=(1, None))
    adapter: str = setting("none", "a run's task-primary LoRA to keep active (none: the backbone alone)",
                           choices=("none", "tc", "ner"))
    seed: int = setting(0, "random seed")
    device: str = setting("cpu", "torch device")
