"""``bench``: a bundle timed next to what users would ship instead (docs/benchmarks.md)."""
from __future__ import annotations

import dataclasses
import os
import shlex
from pathlib import Path

import click

from ..bench.config import BenchConfig
from ..errors import MtpfError
from .options import friendly, log, settings_options


def _command(cfg: BenchConfig, out: Path) -> str:
    """The command line that reproduces this run (written into the report)."""
    command = ["mtpf-deploy", "bench", "--bundle", str(cfg.bundle), "--out", str(out)]
    for flag, value in (("--adapter", cfg.adapter), ("--backbone", cfg.backbone), ("--lengths", cfg.lengths),
                        ("--threads", cfg.threads), ("--repeats", cfg.repeats)):
        if value is not None:
            command += [flag, ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    for spec in cfg.compare:
        command += ["--compare", spec]
    command += ["--quick"] * cfg.quick + ["--no-baselines"] * (not cfg.baselines) + ["--busy-sibling"] * cfg.busy_sibling
    return shlex.join(command)


@click.command("bench")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("bench_out"), show_default=True,
              help="folder for bench.json, bench.md and the plots")
@friendly
@settings_options(BenchConfig)
def bench_cmd(out: Path, cfg: BenchConfig) -> None:
    """Benchmark a bundle next to what users would ship instead (see docs/benchmarks.md)."""
    # OpenMP (PyTorch) threads spin-wait by default and would steal the cores from the variant timed
    # next; set before torch loads (the ONNX Runtime sessions get the same via allow_spinning=0)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from ..bench.report import write_report
    from ..bench.run import QUICK, BenchSettings, run_bench

    assert cfg.bundle is not None  # a required setting
    if not Path(cfg.bundle).is_dir():
        raise MtpfError(f"--bundle {cfg.bundle}: not a bundle folder")
    settings = dataclasses.replace(QUICK if cfg.quick else BenchSettings(),
                                   **{k: v for k, v in (("lengths", cfg.lengths), ("threads", cfg.threads),
                                                        ("repeats", cfg.repeats)) if v is not None},
                                   busy_sibling=cfg.busy_sibling)
    others = {}
    for spec in cfg.compare:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise click.BadParameter(f"expected NAME=MODEL.onnx, not {spec!r}", param_hint="--compare")
        others[name.strip()] = Path(path.strip())
    result = run_bench(Path(cfg.bundle), settings, cfg.adapter, cfg.backbone, with_baselines=cfg.baselines,
                       compare=others, log=log, trust=Path(cfg.trust) if cfg.trust else None)
    files = write_report(result, out, _command(cfg, out))
    for t in result["targets"]:
        met = "not measured" if t["met"] is None else ("met" if t["met"] else "NOT met")
        value = "—" if t["value"] is None else f"{t['value']:.3f}"
        log(f"{t['target']}: {value} ({t['direction']} {t['limit']}) {met}")
    log(f"wrote {', '.join(str(out / f) for f in files)}")
