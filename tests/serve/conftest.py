"""The tiny bundle the service tests share: exported with row adapters (mixed batches in one pass)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def row_bundle(tiny_bert, tiny_adapters, tmp_path_factory):
    from mtpf_deploy.export.write_bundle import export_bundle

    out = tmp_path_factory.mktemp("serve") / "bundle"
    export_bundle(str(tiny_bert), tiny_adapters, out, precision="int8", row_adapters=True, log=lambda m: None)
    return out
