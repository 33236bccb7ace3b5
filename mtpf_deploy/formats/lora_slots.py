"""LoRA slots and module names: the one table shared by training (PEFT target regexes, --init-adapter),
export (graph inputs) and the runtime (adapter validation). Torch-free.

Every module an adapter may target gets graph inputs A [r, in] and B [out, r].

Slot names are stable strings shared by the exporter, the adapter packer and the runtime:
``layer.{i}.{family}.lora_A`` / ``.lora_B`` with family one of ``query key value attn_out
intermediate output``. LoRA scaling (alpha / r) is folded into B when an adapter is packed, so the
graph computes ``y = W x + b + B (A x)``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# family -> module path inside ``encoder.layer.{i}``
FAMILY_MODULES = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attn_out": "attention.output.dense",
    "intermediate": "intermediate.dense",
    "output": "output.dense",
}
FAMILIES = tuple(FAMILY_MODULES)
# a row-adapter graph's extra input (``export --row-adapters``): which of the stacked LoRAs each row uses
ROWS_INPUT = "lora_rows"
NER_TARGETS = ("query", "key", "intermediate", "output")  # paper App. A: query, key and the MLP
_MODULE_TO_FAMILY = {v: k for k, v in FAMILY_MODULES.items()}
# PEFT weight names: ``…encoder.layer.{i}.{module}.lora_{A|B}[.{adapter}].weight``
PEFT_KEY = re.compile(r"encoder\.layer\.(\d+)\.(.+?)\.(lora_[AB])(?:\.[^.]+)?\.weight$")


@dataclass(frozen=True)
class Slot:
    """One LoRA slot: a linear layer ``in_features -> out_features`` of layer ``layer``."""

    layer: int
    family: str
    in_features: int
    out_features: int

    @property
    def module(self) -> str:
        return f"encoder.layer.{self.layer}.{FAMILY_MODULES[self.family]}"

    @property
    def a_name(self) -> str:
        return f"layer.{self.layer}.{self.family}.lora_A"

    @property
    def b_name(self) -> str:
        return f"layer.{self.layer}.{self.family}.lora_B"

    @classmethod
    def from_json(cls, data: dict) -> Slot:
        return cls(data["layer"], data["family"], data["in"], data["out"])

    def to_json(self) -> dict:
        return {"layer": self.layer, "family": self.family, "in": self.in_features, "out": self.out_features,
                "a": self.a_name, "b": self.b_name}


def bert_slots(num_layers: int, hidden: int, intermediate: int) -> list[Slot]:
    """All slots of a BERT encoder, in graph-input order."""
    dims = {"query": (hidden, hidden), "key": (hidden, hidden), "value": (hidden, hidden),
            "attn_out": (hidden, hidden), "intermediate": (hidden, intermediate), "output": (intermediate, hidden)}
    return [Slot(i, f, *dims[f]) for i in range(num_layers) for f in FAMILY_MODULES]


def target_regex(families: tuple[str, ...] | list[str], layers: list[int] | None) -> str:
    """PEFT ``target_modules`` regex for the given module families and layer indices (None = all)."""
    unknown = set(families) - set(FAMILY_MODULES)
    if unknown:
        raise ValueError(f"unknown LoRA target(s) {sorted(unknown)}; known: {', '.join(FAMILIES)}")
    layer = r"\d+" if layers is None else "(" + "|".join(str(i) for i in layers) + ")"
    mods = "|".join(re.escape(FAMILY_MODULES[f]) for f in families)
    return rf".*encoder\.layer\.{layer}\.({mods})$"


def peft_module_key(key: str) -> tuple[str, str] | None:
    """``….encoder.layer.3.attention.self.query.lora_A.default.weight`` -> (``encoder.layer.3.attention.self.query``, ``lora_A``)."""
    m = PEFT_KEY.search(key)
    return (f"encoder.layer.{m.group(1)}.{m.group(2)}", m.group(3)) if m else None


def peft_key_to_slot_input(key: str) -> str | None:
    """``base_model.model.encoder.layer.3.attention.self.query.lora_A.weight`` -> ``layer.3.query.lora_A``."""
    m = PEFT_KEY.search(key)
    if not m or m.group(2) not in _MODULE_TO_FAMILY:
        return None
    return f"layer.{m.group(1)}.{_MODULE_TO_FAMILY[m.group(2)]}.{m.group(3)}"


# Slot layouts: graphs of the ONNX backbone that carry slots only where a kind of adapter lives
# (``export/backends/onnx/layouts.py``). name -> (families, how many last layers; None = all layers).
# The full graph (every slot) is always there for any other adapter.
SLOT_LAYOUTS: dict[str, tuple[tuple[str, ...], int | None]] = {
    "none": ((), None),            # no adapter, or a head-only one (a TC logistic regression)
    "tc": (NER_TARGETS, 2),        # the task-primary LoRAs: query, key, MLP of the last 2 layers
    "ner": (NER_TARGETS, None),    # `adapt ner`: query, key, MLP of all layers
}


def layout_slots(name: str, slots: list[Slot]) -> list[Slot]:
    """The slots of layout ``name`` among ``slots`` (the backbone's, in graph-input order)."""
    families, last = SLOT_LAYOUTS[name]
    layers = sorted({s.layer for s in slots})
    kept = set(layers if last is None else layers[-last:])
    return [s for s in slots if s.family in families and s.layer in kept]


def smallest_layout(used: set[str], layouts: dict[str, set[str]]) -> str | None:
    """The layout with the fewest slots that holds every slot in ``used`` (slot A-input names);
    None when none does (the full graph then serves)."""
    fits = [(len(names), name) for name, names in layouts.items() if used <= names]
    return min(fits)[1] if fits else None
