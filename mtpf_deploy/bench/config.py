"""Settings of ``bench`` (torch-free: ``--no-baselines`` runs on ``[runtime]`` alone)."""
from __future__ import annotations

from dataclasses import dataclass

from ..settings import Settings, setting


@dataclass
class BenchConfig(Settings):
    bundle: str | None = setting(None, "bundle folder to benchmark", required=True, path="dir")
    adapter: str | None = setting(None, "adapter name in the bundle", default_text="its first NER adapter")
    backbone: str | None = setting(None, "the bundle's backbone source for the torch baselines",
                                  default_text="the manifest's source")
    quick: bool = setting(False, "seconds-long smoke run: 2 lengths, 1 thread, 3 repeats")
    lengths: list[int] | None = setting(None, "comma list of token lengths", bounds=(0, None), open_low=True,
                                         default_text="16,32,64,128,256; --quick: 16,32")
    threads: list[int] | None = setting(None, "comma list of thread counts", bounds=(0, None), open_low=True,
                                         default_text="1,2; --quick: 1")
    repeats: int | None = setting(None, "timed rounds per point", bounds=(1, None), default_text="30; --quick: 3")
    busy_sibling: bool = setting(False, "also time the latency table with a busy process on the sibling core (the bench "
                                        "pinned with taskset -c 0: the load runs on CPU 1), as on a phone")
    baselines: bool = setting(True, "also time the torch baselines (--no-baselines: only the bundle's own variants, "
                                    "no torch needed)")
    trust: str | None = setting(None, "trust policy every adapter must satisfy", path="file",
                                  default_text="the bundle's trust.json, if any")
    compare: list[str] = setting([], "another ONNX encoder to time beside ours as NAME=MODEL.onnx (e.g. an optimum "
                                     "export); repeatable", multiple=True)
