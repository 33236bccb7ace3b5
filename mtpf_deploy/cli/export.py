"""``export`` (system side, ``[export]``): the bundle — backbone per backend + tokenizer + adapters."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import MtpfError
from ..export.config import ExportConfig
from .options import friendly, log, missing_modules, needs, settings_options


def run_backbone(run: Path) -> str:
    """A run's backbone: its backbone/ folder (pretrain, adapt multitask --mode full), else the backbone its
    config.json names (adapt multitask with LoRAs on an unchanged backbone)."""
    if (run / "backbone").is_dir():
        return str(run / "backbone")
    try:
        return str(json.loads((run / "config.json").read_text())["backbone"])
    except (OSError, ValueError, KeyError, TypeError):
        raise MtpfError(f"--run {run}: no backbone/ folder and no backbone in config.json; pass --backbone") from None


@click.command("export")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="bundle folder to write")
@click.option("--overwrite", is_flag=True, help="replace --out if it exists")
@needs("export")
@friendly
@settings_options(ExportConfig)
def export_cmd(out: Path, overwrite: bool, cfg: ExportConfig) -> None:
    """System side: write the bundle (backbone with LoRA slots per --backend + one file per adapter)."""
    from ..export.write_bundle import export_bundle, resolve_adapter_specs

    if "executorch" in cfg.backends:
        if missing_modules("executorch"):
            raise MtpfError("--backend executorch needs the [executorch] extra: pip install 'mtpf-deploy[executorch]'")
    run = Path(cfg.run) if cfg.run else None
    if run is not None and not run.is_dir():
        raise MtpfError(f"--run {run}: not a directory")
    backbone = cfg.backbone or (run_backbone(run) if run is not None else "default")
    specs = resolve_adapter_specs(cfg.adapters, run)
    export_bundle(backbone, specs, out, cfg, overwrite=overwrite, log=log)
    click.echo(f"wrote {out}")
