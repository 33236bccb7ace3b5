"""The packaged default backbone loads offline and our mean pooling matches sentence-transformers."""
from __future__ import annotations

import numpy as np
import pytest

from mtpf_deploy.backbones import resolve_backbone
from mtpf_deploy.data.tokenization import load_tokenizer
from mtpf_deploy.errors import MtpfError
from mtpf_deploy.training.adapt.tc import embed_texts
from mtpf_deploy.training.encoder import load_encoder, target_regex


def test_default_backbone_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    path = resolve_backbone("default")
    texts = ["The cat sat on the mat.", "Électricité et café ☕", "a"]
    ours = embed_texts(load_encoder(path), load_tokenizer(path), texts, 256, 8, normalize=True)
    ref = SentenceTransformer(str(path), device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_backbone_errors(tmp_path):
    with pytest.raises(MtpfError, match="no config.json"):
        resolve_backbone(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(MtpfError, match="no model.safetensors"):
        resolve_backbone(tmp_path)


def test_target_regex_selects_layers_and_families():
    import re

    rx = re.compile(target_regex(["query", "output"], [4, 5]))
    assert rx.fullmatch("base_model.model.encoder.layer.5.attention.self.query")
    assert rx.fullmatch("encoder.layer.4.output.dense")
    assert not rx.fullmatch("encoder.layer.4.attention.output.dense")
    assert not rx.fullmatch("encoder.layer.3.attention.self.query")
    with pytest.raises(ValueError, match="unknown LoRA target"):
        target_regex(["qkv"], None)
