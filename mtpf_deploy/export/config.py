"""Settings of ``export`` (torch-free: the CLI builds its flags from them)."""
from __future__ import annotations

from dataclasses import dataclass

from ..formats.bundle import ACTIVATION_SCALES, BACKENDS, MAX_LENGTH_RANGE
from ..formats.card import CardSettings
from ..formats.lora_slots import SLOT_LAYOUTS
from ..settings import Settings, setting

FFN_OUT = "ffn_out"  # the MLP down-projections, whose inputs carry BERT's activation outliers
PRECISIONS = ("int8", "fp32")
INT8_OPS = ("MatMul", "Gather")


@dataclass
class ExportConfig(Settings):
    backbone: str | None = setting(None, "'default', a local Hugging Face folder, or (with --run) RUN/backbone")
    adapters: list[str] = setting([], "adapters to pack: names in RUN/adapters, name=PATH, or adapter folders "
                                      "(comma list; repeatable)", multiple=True)
    run: str | None = setting(None, "a pretrain run folder", path="dir")
    backends: list[str] = setting(["onnx"], "backbone format(s), repeatable: onnx, executorch (XNNPACK .pte + one .ptd "
                                            "weights file)", choices=BACKENDS, multiple=True, flag="backend",
                                  aliases=("format",), values={"both": list(BACKENDS)})
    # ONNX backend
    precision: str = setting("int8", "ONNX backbone precision", choices=PRECISIONS, aliases=("quantize",),
                             values={"none": "fp32"})
    int8_keep_fp32: list[str] = setting([], "leave these MatMuls in fp32 (ffn_out: the MLP down-projections; "
                                            "see docs/export.md)", choices=(FFN_OUT,), multiple=True)
    int8_ops: list[str] = setting(list(INT8_OPS), "op types quantized to int8 (MatMul weights, embedding Gathers)",
                                  choices=INT8_OPS)
    int8_embeddings: str = setting("per-tensor", "embedding tables of an int8 export: int8 with ONNX Runtime's one scale "
                                   "per table, int8 with one scale per row (a token's vector), or float16 (chosen by "
                                   "data: docs/evaluation.md)", choices=("per-tensor", "per-row", "fp16"))
    fuse: bool = setting(True, "ONNX: fuse attention and GELU for ONNX Runtime (docs/benchmarks.md)")
    int8_lora: bool = setting(True, "int8 ONNX bundle: compute the LoRA products in int8 too (adapters quantized per "
                                    "channel when loaded; a quarter of the memory)")
    activation_scales: str = setting("per-tensor", "int8 activations: one dynamic scale per tensor (ONNX Runtime's "
                                     "quantizer; it spans the batch, so the runtime runs int8 rows one by one), or one "
                                     "per token (a row's numbers do not depend on its batch: rows are batched; LoRA "
                                     "products in fp32; docs/serving.md), or static: one fixed scale per tensor from "
                                     "--calibration-texts (batch-independent at per-tensor speed; LoRA products in fp32; "
                                     "docs/export.md)", choices=ACTIVATION_SCALES)
    calibration_texts: str | None = setting(None, "--activation-scales static: texts, one per line (empty lines skipped), "
                                            "whose activation ranges fix the int8 scales; the first "
                                            "--calibration-limit are used and the bundle records their count and sha256",
                                            path="file")
    calibration_limit: int = setting(1000, "use at most this many calibration texts", bounds=(1, 100_000))
    calibration_range: str = setting("mean", "--activation-scales static: each tensor's range is the mean over the "
                                     "calibration texts of each text's own min and max (what a dynamic scale sees for "
                                     "one text), or the overall min and max (nothing saturates on those texts)",
                                     choices=("mean", "max"))
    row_adapters: bool = setting(False, "ONNX: LoRA slot inputs with a batch dimension (a LoRA per row), so one pass "
                                        "serves rows of different adapters (SystemModel.run_mixed, serve); implies "
                                        "per-token activation scales, fp32 LoRA products and no slot layouts "
                                        "(docs/serving.md)")
    max_length: int | None = setting(None, "longest input window", bounds=MAX_LENGTH_RANGE,
                                    default_text="min(512, the backbone's positions)")
    opset: int = setting(18, "ONNX opset", bounds=(17, 23))
    slot_layouts: list[str] = setting(list(SLOT_LAYOUTS), "ONNX: also write backbone graphs with LoRA slots only where "
                                      "these kinds of adapter live (none: no slots; tc: the task-primary LoRAs' query, key, "
                                      "MLP of the last 2 layers; ner: query, key, MLP of all layers); each shares "
                                      "backbone.onnx's weights (docs/benchmarks.md). Empty: the full graph only",
                                      choices=tuple(SLOT_LAYOUTS))
    gate_data: list[str] = setting([], "int8 accuracy gate: ADAPTER=FILE or ADAPTER=DATASET (registered; its dev split) "
                                       "per adapter to score, fp32 against int8, by the runtime's own entities or "
                                       "labels (repeatable; docs/export.md)", multiple=True)
    gate_format: str | None = setting(None, "format of the tc adapters' --gate-data files (csv, tsv, jsonl, ...; "
                                      "ner files are token<TAB>tag lines)")
    gate_max_drop: float = setting(0.5, "refuse the export when an adapter loses more than this many points (F1 or "
                                        "accuracy, 0-100) in int8", bounds=(0, 100))
    data_root: str | None = setting(None, "folder holding the registered datasets (for --gate-data DATASET)", path="dir")
    # ExecuTorch backend
    et_precision: str = setting("fp32", "ExecuTorch weights: fp32, or int8 (XNNPACK dynamic per-channel; see "
                                "docs/benchmarks.md for what it keeps)", choices=("fp32", "int8"), aliases=("et_quantize",),
                                values={"none": "fp32"})
    assume_backbone: bool = setting(False, "pack PEFT folders whose base model cannot be checked on this machine "
                                           "(their backbone binding is recorded as 'assumed')")
    ort_adapters: bool = setting(False, "also write each adapter as ONNX Runtime's own LoRA file "
                                        "(adapters/NAME.onnx_adapter, in the form backbone.onnx takes; docs/formats.md)")
    et_max_rank: int = setting(32, "ExecuTorch: rank of the program's LoRA inputs (the largest adapter rank it takes)",
                               bounds=(1, 4096))
    et_max_batch: int = setting(1, "ExecuTorch: the most rows one program call takes (its memory is planned for this "
                                   "many rows of max length, so keep it small on a phone; the runtime splits larger batches)",
                                bounds=(1, 256))

    @property
    def int8_options(self) -> dict:
        """What the manifest records of non-default int8 choices (``quantize_int8`` keywords)."""
        out: dict = {}
        if self.int8_keep_fp32:
            out["keep_fp32"] = list(self.int8_keep_fp32)
        if tuple(self.int8_ops) != INT8_OPS:
            out["op_types"] = list(self.int8_ops)
        if self.int8_embeddings != "per-tensor":
            out["embeddings"] = self.int8_embeddings
        return out


@dataclass
class PackConfig(CardSettings):
    """``pack`` (app side, ``[runtime]`` alone): one adapter folder -> one ``.mtpfa`` for a bundle."""

    bundle: str | None = setting(None, "the bundle the adapter is for (its manifest gives the backbone)", required=True,
                                  path="dir")
    adapter: str | None = setting(None, "adapter folder: `adapt` output or a PEFT LoRA folder", required=True,
                                   path="dir")
    name: str | None = setting(None, "adapter name (1-64 letters, digits, '-' or '_')", required=True)
    assume_backbone: bool = setting(False, "pack a PEFT folder whose base model cannot be checked on this machine "
                                           "(the adapter records its backbone binding as 'assumed')")
    parent: str | None = setting(None, "the .mtpfa this adapter was made from (its sha256 goes into the lineage)",
                                  path="file")
    ort_adapter: bool = setting(False, "also write ONNX Runtime's own LoRA file beside OUT (same stem, .onnx_adapter, in "
                                       "the form the bundle's backbone.onnx takes; docs/formats.md)")
    labels: list[str] = setting([], "a PEFT TOKEN_CLS folder's labels in the classifier's output order (comma list)",
                                multiple=True, default_text="id2label of a config.json beside it")
