"""What every command shares: one-line errors, logging, and click options generated from a settings
dataclass (``mtpf_deploy/settings.py``), so a command declares its options once, beside their help,
choices and bounds, and a ``--config FILE.toml`` can give any of them."""
from __future__ import annotations

import functools
import typing
from dataclasses import fields
from pathlib import Path

import click

from ..errors import MtpfError
from ..settings import Settings, defaults, flag_name

DISK_ERRORS = {28: "the disk is full", 30: "the file system is read-only", 13: "permission denied",
               122: "the disk quota is exceeded"}


def friendly(fn):
    """Turn our errors, and the disk's (full, read-only, no permission), into a one-line message (no
    traceback); atomic writes leave nothing half-written behind them."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MtpfError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            if exc.errno not in DISK_ERRORS:
                raise
            raise click.ClickException(f"{exc.filename or 'a file'}: {DISK_ERRORS[exc.errno]} (nothing half-written is "
                                       "left behind)") from None

    return wrapper


def log(msg: str) -> None:
    click.echo(msg, err=msg.startswith("warning"))


def _click_type(hint) -> tuple[object, bool]:
    """(click type, is a bool flag) for a settings field annotation."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if typing.get_origin(hint) is not list and args else hint
    return {int: click.INT, float: click.FLOAT, bool: click.BOOL}.get(base, click.STRING), base is bool


class SettingOption(click.Option):
    """A generated option: ``--help`` shows its default as ``[default: 128]``, the same style as click's own
    (click would print a default given as text in parentheses)."""

    def __init__(self, *args, shown_default: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.shown_default = shown_default

    def get_help_extra(self, ctx: click.Context):
        extra = super().get_help_extra(ctx)
        if self.shown_default is not None:
            extra["default"] = self.shown_default
        return extra


def _list_metavar(hint) -> str | None:
    """``INTEGER[,...]`` / ``TEXT[,...]`` for a comma-list setting."""
    if typing.get_origin(hint) is not list and not any(typing.get_origin(a) is list for a in typing.get_args(hint)):
        return None
    lists = [hint] if typing.get_origin(hint) is list else [a for a in typing.get_args(hint) if typing.get_origin(a) is list]
    item = typing.get_args(lists[0])[0] if typing.get_args(lists[0]) else str
    return {int: "INTEGER", float: "FLOAT"}.get(item, "TEXT") + "[,...]"


def _shown(value) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return "none" if value is None else str(value)


def settings_options(cls: type[Settings]):
    """Generate one click option per field of a settings dataclass (help, choices and the default shown
    from its metadata), plus ``--config FILE.toml``; the command receives ``cfg``. TOML < flags."""
    hints = typing.get_type_hints(cls)
    default_of = defaults(cls)

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, config_file=None, **kwargs):
            given = {}
            for f in fields(cls):
                value = kwargs.pop(f.name, None)
                for i, _ in enumerate(f.metadata.get("aliases", ())):
                    alias = kwargs.pop(f"{f.name}__alias{i}", None)
                    value = alias if value in (None, ()) and alias not in (None, ()) else value
                if value not in (None, ()):
                    given[f.name] = list(value) if isinstance(value, tuple) else value
            cfg = cls.from_toml(config_file, given) if config_file else cls.from_dict(given, "flags")
            return fn(*args, cfg=cfg, **kwargs)

        options = [click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                                help="TOML file of these settings (keys as the flags, '-' or '_'); flags given win")]
        for f in sorted(fields(cls), key=lambda f: f.metadata.get("late", False)):
            ctype, is_bool = _click_type(hints[f.name])
            choices = f.metadata.get("choices")
            multiple = f.metadata.get("multiple", False)
            if choices and (typing.get_origin(hints[f.name]) is not list or multiple):
                ctype = click.Choice(choices)
            if f.metadata.get("path"):
                ctype = click.Path(file_okay=f.metadata["path"] == "file", dir_okay=f.metadata["path"] == "dir")
            name = flag_name(f)
            decls = [f"--{name}/--no-{name}"] if is_bool else [f"--{name}"]
            required = " (required)" if f.metadata.get("required") else ""
            shown = f.metadata.get("default_text") or _shown(default_of[f.name])
            metavar = None if choices or multiple else _list_metavar(hints[f.name])
            options.append(click.option(*decls, f.name, cls=SettingOption, type=None if is_bool else ctype, default=None,
                                        multiple=multiple, help=f.metadata["help"] + required, metavar=metavar,
                                        show_default=False, shown_default=None if required else shown))
            for i, alias in enumerate(f.metadata.get("aliases", ())):
                # an alias keeps its old values too (``--format both``): they are mapped by the settings
                alias_type = click.STRING if f.metadata.get("values") and not is_bool else (None if is_bool else ctype)
                alias_decls = [f"--{alias.replace('_', '-')}/--no-{alias.replace('_', '-')}"] if is_bool \
                    else [f"--{alias.replace('_', '-')}"]
                options.append(click.option(*alias_decls, f"{f.name}__alias{i}", type=alias_type, default=None,
                                            multiple=multiple, hidden=True))
        for opt in reversed(options):
            wrapper = opt(wrapper)
        return wrapper

    return decorate


def data_options(fn):
    """Options choosing the data: a registered dataset or files."""
    opts = [
        click.option("--dataset", help="registered dataset name (see `mtpf-deploy datasets`)"),
        click.option("--data-root", type=click.Path(file_okay=False, path_type=Path),
                     help="folder holding the registered datasets (e.g. shared/data)"),
        click.option("--train", "train_file", type=click.Path(dir_okay=False, path_type=Path), help="training file"),
        click.option("--dev", "dev_file", type=click.Path(dir_okay=False, path_type=Path), help="dev file"),
        click.option("--test", "test_file", type=click.Path(dir_okay=False, path_type=Path), help="test file"),
        click.option("--format", "fmt", help="file format: bio | csv | tsv | label-text | semicolon | at | jsonl | json"),
        click.option("--out", required=True, type=click.Path(path_type=Path), help="output adapter folder"),
        click.option("--overwrite", is_flag=True, help="replace --out if it exists"),
        click.option("--examples", default=3, show_default=True, help="dev predictions to print from the saved adapter"),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn




EXTRAS = {  # extra -> modules its commands import (pyproject.toml)
    "export": ("torch", "transformers", "onnx", "onnxscript"),
    "train": ("torch", "transformers", "peft", "sklearn", "seqeval"),
    "executorch": ("torch", "executorch"),
}


def missing_modules(extra: str) -> list[str]:
    import importlib.util

    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


def needs(extra: str):
    """A command that runs only with ``extra`` installed says so in one line instead of a traceback."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            missing = missing_modules(extra)
            if missing:
                name = click.get_current_context().command_path
                raise click.ClickException(f"`{name}` needs the [{extra}] extra (missing: {', '.join(missing)}): "
                                           f"pip install 'mtpf-deploy[{extra}]'")
            return fn(*args, **kwargs)

        return wrapper

    return decorate
