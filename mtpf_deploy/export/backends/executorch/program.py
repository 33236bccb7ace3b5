"""Backbone -> ExecuTorch: one ``.pte`` program lowered to XNNPACK whose inputs are ``input_ids``,
``attention_mask`` and the LoRA A/B of every slot, plus ONE ``.ptd`` file holding every weight
(program-data separation). The LoRA inputs have a fixed rank ``max_rank``: an adapter of rank
``r <= max_rank`` is zero-padded (``B_pad A_pad = B A`` exactly) and no adapter is all zeros, so one
program serves every adapter and switching is per call."""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch.export import Dim, export

from ....formats.lora_slots import Slot
from ....logs import quiet_loggers
from ...slotted import SlottedBert, load_slotted

DATA_NAME = "backbone"  # -> backbone.ptd
PRECISIONS = ("fp32", "int8")


class MaskedEncoder(torch.nn.Module):
    """``SlottedBert`` with the additive attention mask built here (``(1 - mask) * finfo.min``, as BERT's
    eager attention does) instead of by transformers' mask utilities, whose index tricks the pt2e
    quantization flow cannot run. Same outputs as ``SlottedBert`` (tests/export/test_executorch.py)."""

    def __init__(self, slotted: SlottedBert):
        super().__init__()
        self.slotted = slotted

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *lora: torch.Tensor) -> torch.Tensor:
        bert = self.slotted.bert
        for k, module in enumerate(self.slotted.slot_modules):
            module.lora = (lora[2 * k], lora[2 * k + 1])
        try:
            hidden = bert.embeddings(input_ids=input_ids)
            additive = (1.0 - attention_mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
            for layer in bert.encoder.layer:
                out = layer(hidden, attention_mask=additive)
                hidden = out[0] if isinstance(out, tuple) else out
            return hidden
        finally:
            for module in self.slotted.slot_modules:
                module.lora = None


def export_executorch(backbone_dir: str | Path, out_dir: Path, max_rank: int, max_length: int,
                      precision: str = "fp32", program_name: str = "backbone.pte",
                      max_batch: int = 1) -> tuple[Path, Path, list[Slot]]:
    """Write ``out_dir/backbone.pte`` and ``out_dir/backbone.ptd``; returns their paths and the slots.
    ExecuTorch plans the program's memory for its largest input, so ``max_batch`` rows of ``max_length``
    sub-words bound what a loaded program holds (batch 256 planned ≈ 10.7 GB for the default backbone).
    ``precision="int8"``: XNNPACK's dynamic per-channel int8 on the backbone's linear layers (pt2e); the
    LoRA products, whose weights are program inputs, stay fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import ExecutorchBackendConfig, to_edge_transform_and_lower
    from executorch.exir.passes.external_constants_pass import delegate_external_constants_pass_unlifted

    slotted, slots = load_slotted(backbone_dir)
    model = MaskedEncoder(slotted).eval()
    vocab = slotted.bert.config.vocab_size
    ids = torch.randint(min(1000, vocab - 1) if vocab > 2000 else 5, min(vocab, 2000), (min(2, max_batch), 9))
    mask = torch.ones_like(ids)
    lora = [t for s in slots for t in (torch.zeros(max_rank, s.in_features), torch.zeros(s.out_features, max_rank))]
    seq = Dim("sequence", min=3, max=max_length)
    rows = {1: seq} if max_batch == 1 else {0: Dim("batch", min=1, max=max_batch), 1: seq}  # batch 1: a static dim
    dynamic = (rows, rows, tuple({} for _ in lora))
    tag = lambda node: DATA_NAME  # noqa: E731  every constant goes to backbone.ptd
    with warnings.catch_warnings(), quiet_loggers():
        warnings.simplefilter("ignore")
        program = export(model, (ids, mask, *lora), dynamic_shapes=dynamic, strict=False)
        unlifted = program.module()
        if precision == "int8":
            unlifted = _quantize_int8(unlifted, (ids, mask, *lora))
        # tag the weights XNNPACK will own too (the pass works on the unlifted graph), then re-export
        delegate_external_constants_pass_unlifted(unlifted, tag)
        flat = (dynamic[0], dynamic[1], *dynamic[2])  # the unlifted module takes the inputs flat
        program = export(unlifted, (ids, mask, *lora), dynamic_shapes=flat, strict=False)
        _tag_lifted_constants(program, DATA_NAME)
        edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        et = edge.to_executorch(ExecutorchBackendConfig(external_constants=tag))
    pte = out_dir / program_name
    pte.write_bytes(et.buffer)
    scratch = out_dir / ".executorch-data"
    scratch.mkdir()
    et.write_tensor_data_to_file(str(scratch))
    written = sorted(scratch.iterdir())
    if [p.name for p in written] != [f"{DATA_NAME}.ptd"]:
        raise RuntimeError(f"ExecuTorch wrote {[p.name for p in written]}, expected one {DATA_NAME}.ptd")
    ptd = out_dir / f"{DATA_NAME}.ptd"
    written[0].rename(ptd)
    scratch.rmdir()
    return pte, ptd, slots


def _tag_lifted_constants(program, tag: str) -> None:
    """Tag every lifted constant of ``program`` for the ``.ptd``. The unlifted-graph pass above misses the
    int8 weights pt2e folds (``quantize_per_channel_default`` attributes): re-exported they become new
    ``_frozen_param`` placeholders without its tag, and XNNPACK then serializes them into the ``.pte``.
    XNNPACK's ``PropagateCustomMetaPass`` carries the tag on to their dequantize nodes."""
    sig = program.graph_signature
    constants = {*sig.inputs_to_parameters, *sig.inputs_to_buffers, *sig.inputs_to_lifted_tensor_constants}
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in constants:
            node.meta.setdefault("custom", {})["delegate_constant_tag"] = tag


def _quantize_int8(module: torch.nn.Module, example: tuple) -> torch.nn.Module:
    """pt2e: XNNPACK quantizer, symmetric per-channel int8 weights, dynamic int8 activations."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True))
    prepared = prepare_pt2e(module, quantizer)
    prepared(*example)  # dynamic quantization needs no calibration data; one call initialises the observers
    return convert_pt2e(prepared)
