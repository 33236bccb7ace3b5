"""Pre-finetuning objectives, one file per loss (as in sentence-transformers)."""
from .infonce import info_nce
from .token_ce import token_cross_entropy

__all__ = ["info_nce", "token_cross_entropy"]
