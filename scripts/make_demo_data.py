"""Rebuild the committed demo samples in demo_data/ from a copy of the shared data.

    python scripts/make_demo_data.py --data-root ../shared/data
"""
from __future__ import annotations

import argparse
import csv
import random
from collections import defaultdict
from pathlib import Path

from mtpf_deploy.data.registry import load_split


def write_bio(path: Path, sentences) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for s in sentences:
            for w, t in zip(s.words, s.tags):
                f.write(f"{w}\t{t}\n")
            f.write("\n")


def write_csv(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for r in rows:
            w.writerow([r.text, r.label])


def per_label(records, k: int, seed: int):
    by = defaultdict(list)
    for r in records:
        by[r.label].append(r)
    rng = random.Random(seed)
    out = [x for label in sorted(by) for x in rng.sample(by[label], min(k, len(by[label])))]
    rng.shuffle(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-root", required=True, type=Path)
    ap.add_argument("--out", default=Path(__file__).resolve().parent.parent / "demo_data", type=Path)
    a = ap.parse_args()
    a.out.mkdir(exist_ok=True)
    write_bio(a.out / "wnut17_train.conll", load_split("wnut17", "train", a.data_root)[:1500])
    write_bio(a.out / "wnut17_dev.conll", load_split("wnut17", "dev", a.data_root)[:400])
    write_csv(a.out / "banking77_train.csv", per_label(load_split("banking77", "train", a.data_root), 16, 0))
    raw = load_split("wnut17_raw", "train", a.data_root)[:600]
    (a.out / "wnut17_raw_sample.txt").write_text("".join(line.replace("\r", " ") + "\n" for line in raw), encoding="utf-8")
    write_csv(a.out / "banking77_test.csv", per_label(load_split("banking77", "test", a.data_root), 6, 0))


if __name__ == "__main__":
    main()
