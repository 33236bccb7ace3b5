"""The merged per-task model of a bundle's adapter as a Hugging Face folder (W += B A on every slot the
adapter uses): the input of benchmarks/optimum_baseline.sh.

    .venv/bin/python benchmarks/merged_model.py BUNDLE ADAPTER_NAME OUT"""
from __future__ import annotations

import sys
from pathlib import Path

from mtpf_deploy.backbones import resolve_backbone
from mtpf_deploy.bench.baselines import merged_backbone
from mtpf_deploy.formats.adapter_file import read_adapter_file
from mtpf_deploy.formats.bundle import bundle_path, read_bundle_manifest
from mtpf_deploy.formats.lora_slots import Slot


def main(bundle: Path, name: str, out: Path) -> None:
    manifest = read_bundle_manifest(bundle)
    af = read_adapter_file(bundle_path(bundle, manifest["adapters"][name], "adapters"))
    slots = [Slot.from_json(s) for s in manifest["backbone"]["slots"]]
    out.mkdir(parents=True, exist_ok=True)
    merged_backbone(resolve_backbone(manifest["backbone"]["source"]), af.lora, slots, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
