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
            aliases: tuple[str, ...] = (), multiple: bool = False, bounds: tuple[float | None, float | None] | None = None,
            open_low: bool = False, open_high: bool = False, values: dict[str, Any] | None = None,
            required: bool = False, late: bool = False, path: str | None = None,
            default_text: str | None = None) -> Any:
    """A config field. ``flag``: the CLI/TOML name when it differs from the field name; ``aliases``:
    older spellings still accepted (hidden in ``--help``); ``multiple``: the flag may be repeated;
    ``bounds``: (low, high) a number must lie in (None: unbounded; ``open_low`` / ``open_high``: that end excluded);
    ``values``: older values still accepted, mapped to their new meaning (``{"none": "fp32"}``);
    ``required``: the run cannot start without it (a flag, or a key of the ``--config`` file); ``late``: listed
    after the command's own settings in ``--help`` (settings a mixin adds, e.g. ``CardSettings``); ``path``:
    ``"dir"`` or ``"file"``, the value names one (shown as DIRECTORY / FILE); ``default_text``: what ``--help``
    shows as the default when the value is worked out later (e.g. "ONNX Runtime's")."""
    meta = {"help": help, "choices": choices, "flag": flag, "aliases": aliases, "multiple": multiple,
            "bounds": bounds, "open_low": open_low, "open_high": open_high, "values": values or {}, "required": required,
            "late": late, "path": path, "default_text": default_text}
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
        meta = {f.name: f.metadata for f in fields(cls)}  # type: ignore[arg-type]
        by_name = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        where = {name: f"--{flag_name(by_name[name])}" if source == "flags" else f"{source}: {name}" for name in values}
        kwargs = {name: coerce(_renamed_values(value, meta[name].get("values") or {}), hints[name], where[name])
                  for name, value in values.items()}
        return cls(**kwargs)

    def __post_init__(self) -> None:
        """The rules declared beside the fields (required, choices, bounds) hold for every config that exists."""
        for f in fields(self):  # type: ignore[arg-type]
            if f.metadata.get("required") and getattr(self, f.name) in (None, "", []):
                raise MtpfError(f"--{flag_name(f)} is required")
        self.check_choices()
        self.check_bounds()

    def validate(self) -> None:
        """Rules across fields, checked once where a run starts (a config extends this)."""

    def check_bounds(self) -> None:
        """Every number with ``bounds`` lies in them (each element, for a list)."""
        for f in fields(self):  # type: ignore[arg-type]
            bounds = f.metadata.get("bounds")
            value = getattr(self, f.name)
            if not bounds or value is None:
                continue
            lo, hi = bounds
            strict, strict_high = f.metadata.get("open_low"), f.metadata.get("open_high")
            for v in value if isinstance(value, list) else [value]:
                if (lo is None or (v > lo if strict else v >= lo)) and (hi is None or (v < hi if strict_high else v <= hi)):
                    continue
                if hi is not None:
                    rule = f"in {'(' if strict else '['}{lo}, {hi}{')' if strict_high else ']'}"
                else:
                    rule = "positive" if strict and lo == 0 else f"{'>' if strict else '>='} {lo}"
                raise MtpfError(f"--{flag_name(f)} must be {rule}, got {v}")

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


def _renamed_values(value: Any, renamed: dict[str, Any]) -> Any:
    """Map older values to their new meaning (lists element by element, flattening list meanings)."""
    if not renamed:
        return value
    if isinstance(value, (list, tuple)):
        out: list = []
        for v in value:
            new = renamed.get(v, v) if isinstance(v, str) else v
            out += new if isinstance(new, list) else [new]
        return out
    return renamed.get(value, value) if isinstance(value, str) else value


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
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise MtpfError(f"{where}: expected a list, got {value!r}")
        # comma lists, also inside each repetition of a repeatable flag
        value = [p.strip() for v in value for p in (v.split(",") if isinstance(v, str) else [v])
                 if not isinstance(p, str) or p.strip()]
        item = args[0] if args else str
        try:
            return [coerce(v, item, where) for v in value]
        except MtpfError:
            kind = {int: "integers", float: "numbers"}.get(item)
            if kind is None:
                raise
            raise MtpfError(f"{where}: expected comma-separated {kind}, got {','.join(map(str, value))!r}") from None
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
