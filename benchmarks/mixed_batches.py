"""Mixed-adapter batches (issue 26), in one run, interleaved, 1 thread: 8 requests of one text each for 8
different NER-sized adapters (PEFT LoRA r32/α64 on query/key/MLP of all 6 layers, random non-zero B, a
seed each), at L = 32 and 128 tokens, on the default backbone:

- ``serial``: 8 ``entities`` calls, one per adapter, on the row-adapter bundle (``export --row-adapters``);
- ``serial per-tensor``: the same on the default int8 bundle (per-tensor activation scales; today's path);
- ``run_mixed``: the 8 requests in one ``SystemModel.run_mixed`` call (threads + batcher + one pass);
- ``mixed pass``: ``SystemModel.run_rows`` of the 8 rows with their 8 adapters (one session run);
- ``same-adapter pass``: the same 8 rows with one adapter (one session run of the same shape).

    taskset -c 0 .venv/bin/python benchmarks/mixed_batches.py [--work bench_out/mixed_batches]

Writes docs/results/mixed_batches.json; docs/serving.md has the table."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from mtpf_deploy.bench.machine import machine_info
from mtpf_deploy.bench.timing import interleaved, token_rows
from mtpf_deploy.runtime import SystemModel

OUT = Path(__file__).resolve().parent.parent / "docs" / "results" / "mixed_batches.json"
ADAPTERS = 8
TARGETS = {"throughput vs serial at L=32": 3.0, "mixed / same-adapter pass": 1.2}


def ner_adapters(work: Path) -> dict[str, Path]:
    """8 NER-sized PEFT adapter folders (``executorch_vs_onnx.ner_sized_adapter`` with a seed each)."""
    from executorch_vs_onnx import ner_sized_adapter

    out = {}
    for k in range(ADAPTERS):
        folder = work / "adapters" / f"ner{k}"
        if not (folder / "adapter_config.json").is_file():
            ner_sized_adapter(folder, max_length=128, seed=k)
        out[f"ner{k}"] = folder
    return out


def bundles(work: Path) -> tuple[Path, Path]:
    from mtpf_deploy.export.write_bundle import export_bundle

    adapters = ner_adapters(work)
    rows, plain = work / "int8_row_adapters", work / "int8_per_tensor"
    if not (rows / "manifest.json").is_file():
        export_bundle("default", adapters, rows, precision="int8", row_adapters=True, overwrite=True)
    if not (plain / "manifest.json").is_file():
        export_bundle("default", adapters, plain, precision="int8", overwrite=True)
    return rows, plain


def text_of(system: SystemModel, tokens: int, seed: int) -> str:
    """A text of ``tokens`` sub-words (without [CLS]/[SEP]): random ids decoded, then cut."""
    ids = token_rows(tokens + 2, 1, 2000, 20000, system.cls_id, system.sep_id, seed=seed)[0][0][1:-1]
    text = system.tokenizer.decode(list(ids))
    enc = system.tokenizer.encode(text, add_special_tokens=False)
    return text[: enc.offsets[min(tokens, len(enc.offsets)) - 1][1]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path("bench_out/mixed_batches"))
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    rows_bundle, plain_bundle = bundles(args.work)
    mixed, plain = SystemModel.load(rows_bundle, threads=1), SystemModel.load(plain_bundle, threads=1)
    names = [f"ner{k}" for k in range(ADAPTERS)]
    for system in (mixed, plain):
        for n in names:
            system.load_adapter(n)
    result: dict = {"command": "taskset -c 0 .venv/bin/python benchmarks/mixed_batches.py", "machine": machine_info(),
                    "adapters": "8 x PEFT LoRA r32/alpha64, query/key/MLP of all 6 layers, 9 labels", "lengths": {}}
    for length in (32, 128):
        texts = [text_of(mixed, length - 2, seed=k) for k in range(ADAPTERS)]  # rows of `length` with [CLS], [SEP]
        rows = [mixed.tokenizer.encode(t).ids for t in texts]
        requests = [([t], n) for t, n in zip(texts, names)]
        calls = {
            "serial": lambda texts=texts: [mixed.entities([t], n) for t, n in zip(texts, names)],
            "serial per-tensor": lambda texts=texts: [plain.entities([t], n) for t, n in zip(texts, names)],
            "run_mixed": lambda requests=requests: mixed.run_mixed(requests),
            "mixed pass": lambda rows=rows: mixed.run_rows(rows, names),
            "same-adapter pass": lambda rows=rows: mixed.run_rows(rows, [names[0]] * ADAPTERS),
        }
        timing = interleaved(calls, args.repeats, warmup=3)
        med = {k: v["median_ms"] for k, v in timing.items()}
        result["lengths"][str(length)] = {
            "tokens": [len(r) for r in rows], "timing": timing,
            "throughput run_mixed / serial": med["serial"] / med["run_mixed"],
            "throughput run_mixed / serial per-tensor": med["serial per-tensor"] / med["run_mixed"],
            "mixed pass / same-adapter pass": med["mixed pass"] / med["same-adapter pass"],
        }
        print(length, {k: round(v, 2) for k, v in med.items()},
              {k: round(v, 3) for k, v in result["lengths"][str(length)].items() if k.startswith(("through", "mixed"))})
    result["targets"] = TARGETS
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
