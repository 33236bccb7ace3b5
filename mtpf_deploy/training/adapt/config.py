"""Settings of ``adapt ner`` and ``adapt tc`` (torch-free: the CLI builds its flags from them)."""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import MtpfError
from ...formats.card import CardSettings
from ...formats.lora_slots import FAMILIES, NER_TARGETS
from ...settings import setting


@dataclass
class AdaptConfig(CardSettings):
    """What both adapt commands share."""

    backbone: str = setting("default", "'default' (packaged all-MiniLM-L6-v2) or a local Hugging Face folder")
    max_length: int = setting(128, "max sub-words per input ([CLS] + [SEP] + at least one)", bounds=(3, None))
    batch_size: int = setting(64, "examples per batch", bounds=(0, None), open_low=True)
    train_fraction: float = setting(1.0, "seeded fraction of train (low-resource setting)", bounds=(0, 1),
                                    open_low=True)
    lora_r: int = setting(32, "LoRA rank (PEFT's r)", aliases=("r",), bounds=(0, None), open_low=True)
    lora_alpha: int = setting(64, "LoRA alpha", aliases=("alpha",))
    lora_dropout: float = setting(0.1, "LoRA dropout", bounds=(0, 1), open_high=True)
    lora_targets: list[str] = setting(list(NER_TARGETS), "LoRA target module families (all layers)",
                                      choices=FAMILIES, aliases=("targets",))
    lora_lr: float = setting(5e-4, "LoRA learning rate (joint phase)", aliases=("lr",), bounds=(0, None), open_low=True)
    head_lr: float = setting(1e-3, "head learning rate (warm-up phase)", bounds=(0, None), open_low=True)
    weight_decay: float = setting(0.01, "AdamW weight decay", bounds=(0, None))
    schedule: str = setting("linear", "joint-phase learning rate: linear decay to 0, or constant",
                            choices=("linear", "constant"))
    clip_grad_norm: float = setting(1.0, "clip the gradient norm at this value (0: no clipping)", bounds=(0, None))
    seed: int = setting(0, "random seed")
    device: str = setting("cpu", "torch device")


@dataclass
class NerAdaptConfig(AdaptConfig):
    init_adapter: str | None = setting(None, "PEFT adapter (e.g. the task-primary NER LoRA) initialising the "
                                             "layers it covers")
    warmup_epochs: int = setting(10, "head-only epochs (encoder frozen)", bounds=(0, None))
    epochs: int = setting(30, "joint LoRA + head epochs", bounds=(0, None))
    # chosen on CoNLL-2003 dev at 1 % of train: constant 0.675 vs linear decay 0.546 entity F1
    # (docs/results/adapt_ner_protocol.md)
    schedule: str = setting("constant", "joint-phase learning rate: constant, or linear decay to 0",
                            choices=("constant", "linear"))
    shipped_metric: bool = setting(True, "also score dev/test entities as the runtime returns them (an fp32 bundle of "
                                         "the adapter, SystemModel.entities, character spans; needs the export install)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.epochs + self.warmup_epochs == 0:
            raise MtpfError("--epochs and --warmup-epochs are both 0: nothing would train")


@dataclass
class TcAdaptConfig(AdaptConfig):
    embed_adapter: str | None = setting(None, "TC LoRA folder (e.g. task-primary) kept active while embedding",
                                         aliases=("adapter",))
    n_experiments: int = setting(10, "MTEB protocol: runs on undersampled train (0: fit the head only)", bounds=(0, None))
    samples_per_label: str = setting("8", "MTEB undersampling per label, or 'all'")
    max_iter: int = setting(100, "logistic regression iterations", bounds=(0, None), open_low=True)
    calibrate: str = setting("temperature", "logistic-regression head: scale its logits by a temperature fitted "
                             "on dev (else on a fifth of train held out) so probabilities match accuracy; none: as "
                             "fitted", choices=("temperature", "none"))
    normalize: bool = setting(True, "L2-normalise pooled embeddings")
    finetune: bool = setting(False, "train a LoRA + linear head with cross-entropy instead")
    warmup_epochs: int = setting(2, "finetune: head-only epochs", bounds=(0, None))
    epochs: int = setting(5, "finetune: joint LoRA + head epochs", bounds=(0, None))

    @property
    def per_label(self) -> int | None:
        """``samples_per_label`` as a number (None = all of train)."""
        return None if self.samples_per_label == "all" else int(self.samples_per_label)

    def __post_init__(self) -> None:
        super().__post_init__()
        spl = self.samples_per_label
        if spl != "all" and not (spl.isdigit() and int(spl) > 0):
            raise MtpfError(f"--samples-per-label must be a positive integer or 'all', not {spl!r}")
