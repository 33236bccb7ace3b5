"""Quieting third-party loggers: scoped (a context manager) or, for the CLI only, process-wide.
Importing mtpf_deploy changes no global state; the CLI entry point calls ``quiet_libraries``."""
from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# torchao (pulled in by peft) logs missing CUDA kernels and pytree deprecations; the exporter and the
# quantizer (via the root logger) chat at INFO/WARNING: noise for a CPU user, only errors are kept.
NOISY = ("torchao", "torch.utils._pytree", "torch", "torch.onnx", "onnxscript", "onnx_ir")


@contextmanager
def quiet_loggers(names: tuple[str, ...] = NOISY, root: bool = False) -> Iterator[None]:
    """Raise these loggers (and the root logger, if ``root``) to ERROR inside the block only."""
    loggers = [logging.getLogger(n) for n in names] + ([logging.getLogger()] if root else [])
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, saved):
            lg.setLevel(level)


def quiet_libraries() -> None:
    """Process-wide, for the command line: errors only from noisy libraries, no HF progress bars."""
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    # read by transformers / huggingface_hub when (and if) they are imported later
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
