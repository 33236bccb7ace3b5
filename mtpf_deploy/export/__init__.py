"""Export side (torch -> ONNX): backbone with LoRA slots, int8 quantization, adapter packing."""
import logging as _logging

for _name in ("torchao", "torch.utils._pytree"):
    _logging.getLogger(_name).setLevel(_logging.ERROR)
