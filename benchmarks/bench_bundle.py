"""The bundle `mtpf-deploy bench` is measured on in docs/benchmarks/bench/: the default backbone,
int8 ONNX (int8 LoRA, fusions) + ExecuTorch int8 (XNNPACK), an NER-sized adapter (PEFT LoRA r32/α64 on
query/key/MLP of all 6 layers, random non-zero B, 9 labels, max_length 128 as `adapt ner` trains) and
a real TC adapter (`adapt tc` on the committed Banking77 sample).

    .venv/bin/python benchmarks/bench_bundle.py OUT
    .venv/bin/mtpf-deploy bench --bundle OUT --out docs/benchmarks/bench"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from executorch_vs_onnx import banking_adapter, ner_sized_adapter


def main(out: Path) -> None:
    from mtpf_deploy.export.write_bundle import export_bundle

    with tempfile.TemporaryDirectory() as tmp:
        ner = ner_sized_adapter(Path(tmp) / "ner", max_length=128)
        banking_adapter(Path(tmp) / "tc")
        export_bundle("default", {"ner": ner, "tc": Path(tmp) / "tc"}, out, precision="int8",
                      backends=("onnx", "executorch"), et_precision="int8", overwrite=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
