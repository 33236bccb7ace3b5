"""Export side (torch -> ONNX): backbone with LoRA slots, int8 quantization, adapter packing."""
