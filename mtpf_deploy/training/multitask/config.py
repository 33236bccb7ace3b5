"""Settings of ``adapt multitask`` (torch-free: the CLI builds its flags from them)."""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import MtpfError
from ...formats.lora_slots import FAMILIES, NER_TARGETS
from ...settings import Settings, setting
from ..multi_objective import COMBINATIONS

# the report's tasks and the adapter task kind each ships as (formats/tasks.py)
ADAPTER_TASKS = {"sst": "tc", "para": "pair-tc", "sts": "sts"}
TASKS = tuple(ADAPTER_TASKS)
DATASETS = {"sst": "sst5", "para": "mrpc", "sts": "stsb"}  # registered datasets (Quora is not available here)
MODES = ("lora-per-task", "shared-lora", "full")
SAMPLING = ("sequential", "parallel", "round-robin")


@dataclass
class MultitaskConfig(Settings):
    backbone: str = setting("default", "'default' (packaged all-MiniLM-L6-v2) or a local Hugging Face folder")
    data_root: str | None = setting(None, "folder holding sst5/, mrpc/ and stsb/ (e.g. ../shared/data)", path="dir")
    tasks: list[str] = setting(list(TASKS), "tasks to train together (one: the report's single-task baseline)",
                               choices=TASKS)
    mode: str = setting("lora-per-task", "what trains: one LoRA per task on the frozen backbone (deployable as "
                        "adapters of one bundle), one shared LoRA, or the whole encoder (the report)", choices=MODES)
    train_limit: int = setting(0, "seeded subset of each task's train split (0: all)", bounds=(0, None))
    task_train_limit: list[str] = setting([], "per-task override of --train-limit as TASK=N, e.g. para=300,sts=600 "
                                          "(unequal sizes, like the report's datasets)")
    epochs: int = setting(3, "passes; an epoch's length depends on --task-sampling", bounds=(0, None), open_low=True)
    batch_size: int = setting(32, "examples per task per step", bounds=(0, None), open_low=True)
    max_length: int = setting(128, "max sub-words per sentence", bounds=(0, None), open_low=True)
    lr: float = setting(1e-4, "learning rate of the encoder part that trains (LoRA or all weights)", bounds=(0, None), open_low=True)
    head_lr: float = setting(1e-3, "learning rate of the task heads", bounds=(0, None), open_low=True)
    weight_decay: float = setting(0.01, "decoupled weight decay", bounds=(0, None))
    optimizer: str = setting("adamw", "adamw | adabelief", choices=("adamw", "adabelief"))
    clip_grad_norm: float = setting(0.0, "clip the gradient norm at this value (0: no clipping; the report: 1)", bounds=(0, None))
    dropout: float = setting(0.1, "dropout before the heads", bounds=(0, 1), open_high=True)
    loss: str = setting("sum", "combination of the task losses of one step: sum | gls (geometric mean) | fls "
                        "(geometric mean x focused tasks' geometric mean)", choices=COMBINATIONS)
    focus: list[str] = setting([], "fls: focused tasks (the report: para)", choices=TASKS)
    task_sampling: str = setting("round-robin", "sequential: one task's batches after another's; parallel: one batch "
                                 "of every task per step, stop when one runs out; round-robin: one batch of every "
                                 "task per step, smaller tasks resampled until the largest is used up",
                                 choices=SAMPLING)
    pcgrad: bool = setting(False, "project conflicting task gradients on the shared parameters (PCGrad)")
    smart_weight: float = setting(0.0, "SMART smoothness weight lambda_s (0: off)", bounds=(0, None))
    smart_epsilon: float = setting(1e-5, "SMART: perturbation size (max-norm ball on input embeddings)", bounds=(0, None))
    smart_step_size: float = setting(1e-3, "SMART: ascent step size", bounds=(0, None))
    smart_noise: float = setting(1e-5, "SMART: std of the initial random perturbation", bounds=(0, None))
    smart_steps: int = setting(1, "SMART: ascent steps", bounds=(0, None))
    bregman_weight: float = setting(0.0, "SMART: Bregman proximal point weight mu (0: off)", bounds=(0, None))
    bregman_beta: float = setting(0.99, "SMART: momentum beta of the proximal anchor", bounds=(0, 1), open_high=True)
    lora_r: int = setting(32, "LoRA rank", bounds=(0, None), open_low=True)
    lora_alpha: int = setting(64, "LoRA alpha")
    lora_dropout: float = setting(0.1, "LoRA dropout", bounds=(0, 1), open_high=True)
    lora_targets: list[str] = setting(list(NER_TARGETS), "LoRA target module families (all layers)", choices=FAMILIES)
    seed: int = setting(0, "random seed")
    device: str = setting("cpu", "torch device")

    def train_limits(self) -> dict[str, int]:
        """Each trained task's train-split cap (0: all), --task-train-limit over --train-limit."""
        limits = {t: self.train_limit for t in self.tasks}
        for item in self.task_train_limit:
            task, eq, n = item.partition("=")
            if not eq or not n.strip().isdigit():
                raise MtpfError(f"--task-train-limit: {item!r} is not TASK=N with N a whole number >= 0")
            if task.strip() not in self.tasks:
                raise MtpfError(f"--task-train-limit: {task.strip()!r} is not a trained task ({', '.join(self.tasks)})")
            limits[task.strip()] = int(n)
        return limits

    def validate(self) -> None:
        if not self.tasks:
            raise MtpfError("--tasks is empty")
        if len(set(self.tasks)) != len(self.tasks):
            raise MtpfError(f"--tasks repeats a task: {self.tasks}")
        self.train_limits()
        together = len(self.tasks) > 1 and self.task_sampling != "sequential"
        if self.loss != "sum" and not together:
            raise MtpfError(f"--loss {self.loss} combines the losses of the tasks of one step, but "
                            + ("one task is trained" if len(self.tasks) < 2 else "--task-sampling sequential trains one "
                               "task per step") + ": use --loss sum, or several tasks with parallel / round-robin")
        if self.loss == "fls" and not set(self.focus) & set(self.tasks):
            raise MtpfError(f"--loss fls needs --focus naming one of {self.tasks}")
        if self.pcgrad and not together:
            raise MtpfError("--pcgrad needs several tasks in the same step (--task-sampling parallel or round-robin)")
        if self.pcgrad and self.mode == "lora-per-task":
            raise MtpfError("--pcgrad projects gradients of shared parameters; with --mode lora-per-task the tasks "
                            "share none (use shared-lora or full)")
