"""Settings of ``export`` (torch-free: the CLI builds its flags from them)."""
from __future__ import annotations

from dataclasses import dataclass

from ..settings import Settings, setting

FFN_OUT = "ffn_out"  # the MLP down-projections, whose inputs carry BERT's activation outliers


@dataclass
class ExportConfig(Settings):
    backbone: str | None = setting(None, "'default', a local Hugging Face folder, or (with --run) RUN/backbone")
    adapters: list[str] = setting([], "comma list: names in RUN/adapters, name=PATH, or adapter folders")
    run: str | None = setting(None, "a pretrain run folder")
    quantize: str = setting("int8", "backbone precision", choices=("int8", "none"))
    int8_keep_fp32: list[str] = setting([], "leave these MatMuls in fp32 (ffn_out: the MLP down-projections; "
                                            "see docs/export.md)", choices=(FFN_OUT,), multiple=True)
    fuse: bool = setting(True, "ONNX: fuse attention and GELU for ONNX Runtime (docs/benchmarks.md)")
    int8_lora: bool = setting(True, "int8 ONNX bundle: compute the LoRA products in int8 too (adapters quantized per "
                                    "channel when loaded; a quarter of the memory)")
    max_length: int | None = setting(None, "longest input window (default: min(512, positions))")
    opset: int = setting(18, "ONNX opset")
    format: str = setting("onnx", "backbone format(s): onnx, executorch (XNNPACK .pte + one .ptd weights file) or both",
                          choices=("onnx", "executorch", "both"))
    et_quantize: str = setting("none", "ExecuTorch weights: none (fp32) or int8 (XNNPACK dynamic per-channel; "
                               "see docs/benchmarks.md for what it keeps)", choices=("none", "int8"))
    et_max_rank: int = setting(32, "ExecuTorch: rank of the program's LoRA inputs (the largest adapter rank it takes)")
