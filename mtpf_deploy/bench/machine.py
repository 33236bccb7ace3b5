"""What the numbers were measured on: CPU model, the SIMD features int8 speed depends on, versions."""
from __future__ import annotations

import os
import platform
from importlib import metadata

# x86: AVX2 / AVX-512 / VNNI (int8 dot products) / AMX; Arm: NEON (asimd), dot product, i8mm
FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8", "asimd", "asimddp", "i8mm")


def cpu_flags() -> dict[str, bool]:
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return {}
    words: set[str] = set()
    for line in text.splitlines():
        if line.lower().startswith(("flags", "features")):
            words.update(line.split(":", 1)[1].split())
    return {f: f in words for f in FLAGS}


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    out = {}
    for pkg in ("mtpf-deploy", "onnxruntime", "numpy", "torch", "transformers", "peft", "executorch"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def machine_info() -> dict:
    return {"cpu": cpu_model(), "machine": platform.machine(), "logical_cpus": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "flags": cpu_flags(), "python": platform.python_version(), "versions": versions()}
