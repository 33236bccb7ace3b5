"""Several losses, one update: loss combination (``loss_combination.py``: sum / GLS / FLS), PCGrad
(``pcgrad.py``) and the step both trainers share (``step.py``). This file imports nothing, so the
torch-free settings can name the combinations."""

COMBINATIONS = ("sum", "gls", "fls")
