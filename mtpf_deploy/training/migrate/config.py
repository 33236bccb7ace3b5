"""Settings of ``migrate`` (torch-free: the CLI builds its flags from them)."""
from __future__ import annotations

from dataclasses import dataclass

from ...settings import Settings, setting


@dataclass
class MigrateConfig(Settings):
    from_bundle: str | None = setting(None, "the bundle the adapter was made for (its backbone + the adapter: the teacher)",
                                      required=True, flag="from", path="dir")
    adapters: list[str] = setting([], "adapter(s) to migrate: names in --from's bundle or .mtpfa files (repeatable; "
                                      "none: every adapter the bundle lists)", multiple=True, flag="adapter")
    to: str | None = setting(None, "the new bundle the migrated adapter is for", required=True, path="dir")
    new_backbone: str | None = setting(None, "the new backbone's weights to train on: 'default', a Hugging Face folder, "
                                             "or a pretrain run (RUN/backbone; its task-primary LoRAs initialise the "
                                             "student)", default_text="--to's backbone source, if it is there")
    init_adapter: str | None = setting(None, "a LoRA folder to start the student's LoRA from (the new backbone's "
                                             "task-primary LoRA)",
                                       default_text="RUN/adapters/ner (ner) or RUN/adapters/tc when --new-backbone is a run")
    texts: str | None = setting(None, "unlabelled texts, one per line (pair tasks: JSON lines {\"text_a\", \"text_b\"})",
                                required=True, path="file")
    max_texts: int = setting(20_000, "use at most this many texts (the first after a seeded shuffle)", bounds=(2, None))
    heldout: float = setting(0.1, "fraction of the texts held back to measure teacher/student agreement (at most 2,000)",
                             bounds=(0, 0.5), open_low=True)
    epochs: int = setting(3, "passes over the training texts", bounds=(1, None))
    batch_size: int = setting(32, "texts per step", bounds=(1, None))
    lora_lr: float = setting(5e-4, "learning rate of the LoRA", bounds=(0, None), open_low=True)
    head_lr: float = setting(5e-3, "learning rate of the head", bounds=(0, None), open_low=True)
    min_agreement: float = setting(0.8, "refuse a migrated adapter whose agreement with the teacher on the held-back "
                                        "texts is below this (0-1: entity F1 for ner, label agreement for tc / pair-tc, "
                                        "Pearson r for sts)", bounds=(0, 1))
    seed: int = setting(0, "shuffles, held-back split, initialisation")
    work: str | None = setting(None, "folder of the resumable state (teacher targets, per-epoch checkpoints)",
                               path="dir", default_text="OUT.work")
