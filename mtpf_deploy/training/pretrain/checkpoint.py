"""Checkpoints without pickle: tensors in safetensors, everything else in JSON; written atomically."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ...formats.atomic import atomic_dir

PREFIX = "step-"


def save_checkpoint(folder: Path, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    state: dict, keep: int = 2) -> Path:
    """Write ``folder/step-NNNNNNNN`` (model, optimizer, RNG, sampler state); keep the newest ``keep``."""
    out = folder / f"{PREFIX}{step:08d}"
    with atomic_dir(out, overwrite=True) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp / "model.safetensors"))
        opt = optimizer.state_dict()
        tensors, meta = {}, {"param_groups": opt["param_groups"], "state": {}}
        for idx, st in opt["state"].items():
            meta["state"][str(idx)] = {}
            for k, v in st.items():
                if torch.is_tensor(v):
                    tensors[f"{idx}.{k}"] = v.detach().cpu().contiguous()
                else:
                    meta["state"][str(idx)][k] = v
        tensors["__torch_rng__"] = torch.get_rng_state()
        save_file(tensors, str(tmp / "optimizer.safetensors"))
        (tmp / "optimizer.json").write_text(json.dumps(meta))
        (tmp / "state.json").write_text(json.dumps({"step": step, **state}, indent=2))
    for old in sorted(folder.glob(f"{PREFIX}*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return out


def latest_checkpoint(folder: Path) -> Path | None:
    found = sorted(p for p in folder.glob(f"{PREFIX}*") if (p / "state.json").exists())
    return found[-1] if found else None


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """Restore model, optimizer and torch RNG; returns the JSON state (step, samplers, ...)."""
    model.load_state_dict(load_file(str(path / "model.safetensors")))
    tensors = load_file(str(path / "optimizer.safetensors"))
    meta = json.loads((path / "optimizer.json").read_text())
    state: dict = {}
    for key, value in tensors.items():
        if key == "__torch_rng__":
            continue
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    for idx, extra in meta["state"].items():
        state.setdefault(int(idx), {}).update(extra)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    torch.set_rng_state(tensors["__torch_rng__"])
    return json.loads((path / "state.json").read_text())
