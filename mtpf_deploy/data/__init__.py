"""Dataset readers, registry and word/sub-word alignment (no torch)."""
