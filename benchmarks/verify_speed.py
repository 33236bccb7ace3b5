"""How long verifying a signed adapter takes (issue 22 target: <= 5 ms for a 4 MB NER adapter).

    python benchmarks/verify_speed.py [--adapters 100]

Makes one adapter file of the size of the default backbone's r32 NER adapter (~4 MB of LoRA factors),
signs it with a fresh key, then times ``TrustPolicy.verify`` (sha256 of the bytes + ECDSA P-256 verify +
the policy checks) over ``--adapters`` calls; prints the median ms and the bytes hashed."""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mtpf_deploy.formats.adapter_file import write_adapter_file  # noqa: E402
from mtpf_deploy.formats.signature import generate_key_pair, key_id, load_private_key, load_public_key, sign_adapter  # noqa: E402
from mtpf_deploy.formats.trust import TrustedKey, TrustPolicy  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--adapters", type=int, default=100)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    lora, slots = {}, []
    for layer in range(6):  # r32 on query, key, intermediate, output of 6 layers of a 384-wide encoder
        for family, (i, o) in {"query": (384, 384), "key": (384, 384), "intermediate": (384, 1536),
                               "output": (1536, 384)}.items():
            a, b = f"layer.{layer}.{family}.lora_A", f"layer.{layer}.{family}.lora_B"
            lora[a], lora[b] = rng.normal(0, .02, (32, i)).astype(np.float32), rng.normal(0, .02, (o, 32)).astype(np.float32)
            slots += [a, b]
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    head = {"weight": rng.normal(0, .05, (5, 384)).astype(np.float32), "bias": np.zeros(5, np.float32)}
    manifest = {"name": "ner", "task": "ner", "labels": labels, "head": "linear", "pooling": None, "normalize": False,
                "max_length": 128, "task_primary": False,
                "lora": {"rank": 32, "alpha": 64.0, "scaling_folded_into_B": True, "slots": sorted(slots),
                         "parameters": int(sum(v.size for v in lora.values()))},
                "backbone": {"weights_sha256": "ab" * 32}}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ner.mtpfa"
        manifest = write_adapter_file(path, manifest, lora, head)
        private, public = generate_key_pair()
        (Path(tmp) / "k.pem").write_bytes(private)
        data = path.read_bytes()
        import json

        sig = json.dumps(sign_adapter(data, manifest, load_private_key(Path(tmp) / "k.pem"), "bench")).encode()
        pub = load_public_key(public, "bench")
        policy = TrustPolicy({key_id(pub): TrustedKey("bench", pub)})
        times = []
        for _ in range(args.adapters):
            t0 = time.perf_counter()
            policy.verify(data, manifest, sig, "adapter bench")
            times.append(1000 * (time.perf_counter() - t0))
    print(f"verify: median {statistics.median(times):.2f} ms, max {max(times):.2f} ms over {args.adapters} calls; "
          f"adapter {len(data) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
