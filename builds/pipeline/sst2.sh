#!/usr/bin/env bash
# The FlexiBERT pipeline on SST-2 with the live benchmark at a small recipe: BOSHNAS with
# Transformer2vec at each of the three levels (16, 8 and 8 queries: 3 random archs, then GOBI's
# proposals from 1,000 candidates per ask; no presets first, which a finer level would ask
# again, its parents being members of its space), the 3 best archs of a level
# and 2 neighbours of each spanning the next, weight transfer from a trained neighbour sharing
# half the layers (tau=0.5; `sst2.sh 0.25`: the first of four), a transferred model fine-tuned
# 1 epoch instead of the recipe's 2. 4000 training sentences, 64 tokens, learning rate 3e-4,
# 2 threads. Resumable: run it again after a kill.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=builds/pipeline
tau=${1:-0.5}
glue=${GLUE:-../shared/data/glue}
args=(flexibert --strategy boshnas --strategy-opt initial=0 --strategy-opt pool=1000 --encoding t2v --benchmark live --task sst2 --budgets 16,8,8
  --top-k 3 --neighbours 2 --seed 0 --store "$out/sst2-tau$tau.sqlite" --out "$out/sst2-tau$tau-report"
  --benchmark-opt data_dir="$glue" --benchmark-opt train_size=4000 --benchmark-opt holdout_size=0
  --benchmark-opt epochs=2 --benchmark-opt max_len=64 --benchmark-opt batch_size=32 --benchmark-opt lr=3e-4
  --benchmark-opt vocab_size=4000 --benchmark-opt threads=2 --benchmark-opt transfer=true
  --benchmark-opt tau="$tau" --benchmark-opt transfer_epochs=1)
[ -f "$out/sst2-tau$tau.sqlite" ] && args+=(--resume)
/usr/bin/time -v nasbench-txf pipeline "${args[@]}"
