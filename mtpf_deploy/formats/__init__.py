"""On-disk formats shared by the training, export and runtime sides (no torch here)."""
