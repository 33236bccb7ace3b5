"""Training side (torch): adaptation (``adapt``) and pre-finetuning objectives."""
import logging as _logging

# torchao (pulled in by peft/executorch) logs missing CUDA kernels and pytree deprecations on import:
# noise for a CPU user, so keep only its errors.
for _name in ("torchao", "torch.utils._pytree"):
    _logging.getLogger(_name).setLevel(_logging.ERROR)

import warnings as _warnings

_warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
