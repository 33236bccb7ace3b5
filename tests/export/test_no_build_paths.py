"""A shipped backbone names no file of the machine that exported it (torch.onnx's per-node stack traces)."""
from __future__ import annotations

import json

import onnx


def test_exported_backbone_has_no_stack_traces(tiny_bundle):
    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    model = onnx.load(str(tiny_bundle / manifest["backbone"]["file"]))
    keys = {p.key for node in model.graph.node for p in node.metadata_props}
    assert "pkg.torch.onnx.stack_trace" not in keys
    assert b"site-packages" not in (tiny_bundle / manifest["backbone"]["file"]).read_bytes()
