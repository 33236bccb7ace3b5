"""``mtpf-deploy`` command line (click): one module per group of commands, each only parsing and
calling. Torch is imported only inside the commands that need it, so the app-side commands (``pack``,
``inspect``, ``predict``, ``bench --no-baselines``) run on ``[runtime]`` alone."""
from __future__ import annotations

import click

from .. import __version__
from .app import inspect_cmd, keygen_cmd, pack_cmd, predict_cmd, sign_cmd, verify_cmd
from .bench import bench_cmd
from .evaluate import analyze_cmd, evaluate_cmd
from .examples import add_examples
from .export import export_cmd
from .serve import apps_group, serve_cmd
from .train import adapt, datasets_cmd, migrate_cmd, pretrain_cmd, pseudo_label_cmd


@click.group()
@click.version_option(__version__, prog_name="mtpf-deploy")
def main() -> None:
    """Ship one small shared text encoder with many small swappable per-app adapters."""
    from ..logs import quiet_libraries

    quiet_libraries()


for command in (datasets_cmd, adapt, pretrain_cmd, pseudo_label_cmd, evaluate_cmd, analyze_cmd, export_cmd, pack_cmd,
                predict_cmd, inspect_cmd, bench_cmd, keygen_cmd, sign_cmd, verify_cmd, serve_cmd, apps_group, migrate_cmd):
    main.add_command(command)
add_examples(main)

__all__ = ["main"]
