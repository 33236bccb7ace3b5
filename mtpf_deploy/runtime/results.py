"""What the runtime returns."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class Entity:
    """An entity with exact character offsets: ``text == original[start:end]``."""

    text: str
    label: str
    start: int
    end: int
    score: float

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Classification:
    """A label with its probability, all probabilities, whether the input was truncated, how many
    sub-words it had, and whether it was empty (no sub-word: the label is then a guess)."""

    label: str
    score: float
    probabilities: dict[str, float] = field(default_factory=dict)
    truncated: bool = False
    tokens: int = 0
    empty: bool = False

    def to_json(self) -> dict:
        return asdict(self)


class NonFiniteOutput(InputError):
    """An adapter gave NaN or infinite values on a call's input (refused at load when probe texts show it)."""


def check_finite(values: np.ndarray, adapter: Any) -> None:
    """Results are finite or the call fails: never a NaN score, never silently no entity."""
    if not np.isfinite(values).all():
        name = "no adapter" if adapter is None else f"adapter {adapter.name!r}"
        raise NonFiniteOutput(f"{name} gives non-finite values on this input (its LoRA or head values are too large)")


def result_json(result: Any, kind: str, top_k: int = 0) -> dict:
    """One result as JSON (what ``predict`` prints and ``serve`` answers); ``kind`` is the task's ``TaskSpec.result``."""
    if kind == "score":
        return {"score": result}
    if kind == "entities":
        return {"entities": [e.to_json() for e in result]}
    if kind == "classification":
        out = result.to_json()
        if top_k:  # the top_k most probable labels (0: all)
            out["probabilities"] = dict(sorted(out["probabilities"].items(), key=lambda kv: -kv[1])[:top_k])
        return out
    return {"embedding": result.tolist()}
