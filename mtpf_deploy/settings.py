"""Run settings as dataclasses: the single source of every option's name, default, help and choices.

A config dataclass declares its fields with :func:`setting` (help text and allowed values in the
field metadata). From it come the CLI flags (``mtpf_deploy.cli`` generates them), the keys a TOML
``--config`` file may use (field or flag name, ``-`` or ``_``), and the validation of values.
Torch-free: the CLI imports these without the training stack.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import MISSING, field, fields
from pathlib import Path
from typing import Any, TypeVar

from .errors import MtpfError

T = TypeVar("T", bound="Settings")


def setting(default: Any, help: str, *, choices: tuple[str, ...] | None = None, flag: str | None = None,
            aliases: tuple[str, ...] = (), multiple: bool = False) -> Any:
    """A config field. ``flag``: the CLI/TOML name when it differs from the field name; ``aliases``:
    older spellings still accepted (hidden in ``--help``); ``multiple``: the flag may be repeated."""
    meta = {"help": help, "choices": choices, "flag": flag, "aliases": aliases, "multiple": multiple}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def key(name: str) -> str:
    """Canonical spelling of a setting name: lower case, ``-`` as ``_``."""
    return name.strip().lower().replace("-", "_")


def flag_name(f: dataclasses.Field) -> str:
    return (f.metadata.get("flag") or f.name).replace("_", "-")


class Settings:
    """Mixin for config dataclasses: ``from_dict`` (TOML / flags), validation from field metadata."""

    @classmethod
    def spellings(cls) -> dict[str, str]:
        """Every accepted key (field name, flag name, aliases; canonical spelling) -> field name."""
        out: dict[str, str] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            for name in (f.name, flag_name(f), *f.metadata.get("aliases", ())):
                out[key(name)] = f.name
        return out

    @classmethod
    def canonical(cls, data: dict[str, Any], source: str = "settings") -> dict[str, Any]:
        """``data`` keyed by field names; unknown keys are an error listing the valid ones."""
        names = cls.spellings()
        out: dict[str, Any] = {}
        unknown = []
        for k, v in data.items():
            name = names.get(key(str(k)))
            if name is None:
                unknown.append(str(k))
            else:
                out[name] = v
        if unknown:
            valid = ", ".join(flag_name(f) for f in fields(cls))  # type: ignore[arg-type]
            raise MtpfError(f"{source}: unknown setting(s) {', '.join(sorted(unknown))}; valid: {valid}")
        return out

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any], source: str = "settings") -> T:
        """Build and validate a config from a mapping (TOML file, JSON, flags)."""
        values = cls.canonical(data, source)
        hints = typing.get_type_hints(cls)
        kwargs = {name: coerce(value, hints[name], f"{source}: {name}") for name, value in values.items()}
        cfg = cls(**kwargs)
        cfg.check_choices()
        return cfg

    @classmethod
    def from_toml(cls: type[T], path: str | Path, overrides: dict[str, Any] | None = None) -> T:
        """A config from a TOML file; ``overrides`` (e.g. explicit flags) win."""
        import tomllib

        path = Path(path)
        try:
            loaded = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise MtpfError(f"{path}: not a readable TOML file ({exc})") from None
        merged = {**cls.canonical(loaded, str(path)), **cls.canonical(overrides or {}, "flags")}
        return cls.from_dict(merged, str(path))

    def check_choices(self) -> None:
        """Every field with ``choices`` holds allowed values (each element, for a list)."""
        for f in fields(self):  # type: ignore[arg-type]
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if not choices or value is None:
                continue
            bad = [v for v in (value if isinstance(value, list) else [value]) if v not in choices]
            if bad:
                raise MtpfError(f"--{flag_name(f)} must be one of {', '.join(choices)}, not {', '.join(map(repr, bad))}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


def defaults(cls: type) -> dict[str, Any]:
    """Field name -> default value of a config dataclass."""
    out = {}
    for f in fields(cls):
        out[f.name] = f.default_factory() if f.default_factory is not MISSING else f.default
    return out


def coerce(value: Any, hint: Any, where: str) -> Any:
    """Check/convert a TOML or flag value to the field type (``list[str]`` also from a comma string)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(value, inner[0], where)
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise MtpfError(f"{where}: expected a list, got {value!r}")
        return [coerce(v, args[0] if args else str, where) for v in value]
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise MtpfError(f"{where}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                return int(value)
            raise MtpfError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise MtpfError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except ValueError:
            raise MtpfError(f"{where}: expected a number, got {value!r}") from None
    if hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise MtpfError(f"{where}: expected a string, got {value!r}")
    return value
