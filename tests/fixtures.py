"""The tiny model, adapters and bundle the tests share; ``python -m tests.fixtures DIR`` writes them
once (with the full install) so that runtime-only tests can run in a venv without torch."""
from __future__ import annotations

import sys
from pathlib import Path

from tests.conftest import synthetic_ner_splits, synthetic_tc_splits, vocabulary


def make_tiny_adapters(tiny_bert: Path, ner_splits: dict, tc_splits: dict, root: Path) -> dict[str, Path]:
    from mtpf_deploy.training.adapt.config import NerAdaptConfig, TcAdaptConfig
    from mtpf_deploy.training.adapt.ner import adapt_ner
    from mtpf_deploy.training.adapt.tc import adapt_tc

    quiet = lambda m: None  # noqa: E731
    adapt_ner(NerAdaptConfig(backbone=str(tiny_bert), lora_r=4, lora_alpha=8, warmup_epochs=3, epochs=30,
                             batch_size=32, lora_lr=5e-3, head_lr=1e-2), ner_splits, root / "ner", log=quiet)
    adapt_tc(TcAdaptConfig(backbone=str(tiny_bert), finetune=True, lora_r=4, lora_alpha=8, warmup_epochs=2,
                           epochs=10, lora_lr=3e-3, head_lr=1e-2, batch_size=32), tc_splits, root / "tc", log=quiet)
    return {"ner": root / "ner", "tc": root / "tc"}


def make_tiny_bundle(tiny_bert: Path, adapters: dict[str, Path], out: Path) -> Path:
    from mtpf_deploy.export.write_bundle import export_bundle

    export_bundle(str(tiny_bert), adapters, out, quantize="none", log=lambda m: None)
    return out


def main(root: Path) -> None:
    from tests.tiny_bert import make_tiny_bert

    bert = make_tiny_bert(root / "tiny_bert", vocabulary(), seed=0)
    adapters = make_tiny_adapters(bert, synthetic_ner_splits(), synthetic_tc_splits(), root / "adapters")
    make_tiny_bundle(bert, adapters, root / "bundle")
    print(f"wrote {root}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
