"""System side: pre-finetuning the shared backbone and its task-primary LoRAs (paper Sec. 4-6)."""
