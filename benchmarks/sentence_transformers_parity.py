"""How close a bundle's ``SystemModel.embed`` is to ``SentenceTransformer.encode`` of the folder it was exported
from (docs/formats.md, ``sentence_embedding``): cosine per text, a text longer than the model's max length included.

    .venv/bin/mtpf-deploy export --backbone default --precision fp32 --out st_fp32
    .venv/bin/python benchmarks/sentence_transformers_parity.py st_fp32 [ST_FOLDER (default: the packaged one)]"""
from __future__ import annotations

import sys

import numpy as np
from sentence_transformers import SentenceTransformer

from mtpf_deploy.backbones import default_backbone_dir
from mtpf_deploy.runtime import SystemModel

TEXTS = ["A man is playing a guitar on stage.", "The bank declined my card payment yesterday.",
         " ".join(["Ada Lovelace wrote the first published algorithm for Babbage's Analytical Engine in 1843."] * 30)]

if __name__ == "__main__":
    bundle = sys.argv[1]
    folder = sys.argv[2] if len(sys.argv) > 2 else str(default_backbone_dir())
    system = SystemModel.load(bundle)
    model = SentenceTransformer(folder, device="cpu")
    ours, theirs = system.embed(TEXTS), model.encode(TEXTS, normalize_embeddings=False)
    theirs_n = theirs / np.linalg.norm(theirs, axis=1, keepdims=True)
    ours_n = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    se = system.sentence_embedding
    print(f"bundle {bundle}: {se['pooling']} pooling, normalize {se['normalize']}, max {se['max_length']} tokens")
    for text, a, b in zip(TEXTS, ours_n, theirs_n):
        n = len(system.tokenizer.encode(text).ids)
        print(f"  {n:4d} sub-words: cosine {float(a @ b):.6f}, max |diff| {float(np.abs(a - b).max()):.2e}")
