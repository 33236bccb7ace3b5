#!/usr/bin/env bash
# The new backbone of benchmarks/migration.py (issue 27): spaCy pseudo labels on the Leipzig Wikipedia
# sentences (10,000 here), then an MTPF-TPL pretrain run of 300 steps (32 pairs + 32 pseudo-labelled
# sentences per step), checkpointed every 50 steps; rerunning resumes where it stopped.
#     bash benchmarks/migration_prep.sh ../shared/data [bench_out/migration]
set -euo pipefail
DATA=${1:?usage: migration_prep.sh DATA_ROOT [WORK]}
WORK=${2:-bench_out/migration}
CLI=.venv/bin/mtpf-deploy
mkdir -p "$WORK"
if [ ! -f "$WORK/corpus_spacy_ner/meta.json" ]; then
  $CLI pseudo-label --method spacy-ner --dataset leipzig_wikipedia --data-root "$DATA" --limit 20000 \
    --out "$WORK/corpus_spacy_ner" --overwrite
fi
if [ ! -d "$WORK/new_run/adapters/tc" ]; then
  if [ -d "$WORK/new_run/checkpoints" ] && [ -n "$(ls -A "$WORK/new_run/checkpoints")" ]; then MODE=--resume; else MODE=--overwrite; fi
  $CLI pretrain --strategy mtpf-tpl --backbone default --data-root "$DATA" --ner-corpus "$WORK/corpus_spacy_ner" \
    --steps 300 --tc-batch-size 32 --ner-batch-size 32 --checkpoint-every 50 --seed 0 --out "$WORK/new_run" $MODE
fi
