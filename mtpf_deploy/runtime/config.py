"""Settings of the runtime commands (``predict``, ``inspect``): torch-free, like the runtime."""
from __future__ import annotations

from dataclasses import dataclass

from ..formats.bundle import BACKENDS
from ..settings import Settings, setting


@dataclass
class PredictConfig(Settings):
    bundle: str | None = setting(None, "bundle folder", required=True, path="dir")
    adapter: str | None = setting(None, "adapter name in the bundle, or a .mtpfa path", required=True)
    input: str | None = setting(None, "one UTF-8 text per line ('-' or absent with no TEXT: stdin); for a pair adapter "
                                      '(pair-tc, sts) one JSON object {"text_a": ..., "text_b": ...} per line')
    threads: int | None = setting(None, "intra-op threads", bounds=(1, None), default_text="ONNX Runtime's")
    batch_size: int = setting(32, "texts per backbone pass", bounds=(1, None))
    top_k: int = setting(5, "tc / pair-tc: how many label probabilities to print (0: all)", bounds=(0, None))
    backend: str = setting("onnx", "which of the bundle's backbones runs (executorch needs "
                                   "`pip install 'mtpf-deploy[executorch]'`)", choices=BACKENDS)
    trust: str | None = setting(None, "trust policy every adapter must satisfy (none: development mode)",
                                  path="file", default_text="the bundle's trust.json, if any")


@dataclass
class InspectConfig(Settings):
    bundle: str | None = setting(None, "check an adapter file against this bundle", path="dir")
    trust: str | None = setting(None, "and verify its signature against this trust policy", path="file",
                                  default_text="with --bundle: the bundle's trust.json, if any")
    json: bool = setting(False, "print one JSON object (manifest, card, sizes, sha256, lineage, signature, fit) "
                                "instead of text")


@dataclass
class SignConfig(Settings):
    key: str | None = setting(None, "the signer's private key (PEM, from `mtpf-deploy keygen`)", required=True,
                               path="file")
    signer: str = setting("", "who signs, as recorded in the signature", default_text="the key file's name")


@dataclass
class VerifyConfig(Settings):
    trust: str | None = setting(None, "the trust policy (JSON, docs/formats.md)", required=True, path="file")
    bundle: str | None = setting(None, "also check the adapter against this bundle's backbone", path="dir")
