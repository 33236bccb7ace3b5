"""App side: training one adapter (LoRA + head) for one task on top of the shared backbone."""
