#!/usr/bin/env bash
# One-shot against black-box search on the composition space of MiniLM-L6 fine-tuned on SST-2, at
# equal simulated compute: do and sdo (100 training steps, then the cards they rank next), NSGA-II
# (accuracy against latency) and random search, each cell 400 simulated seconds (training charged
# to the one-shot cells), cards scored on 300 dev rows drawn by the seed. Resumable: run it again.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=builds/composition/sweep
nasbench-txf sweep --space composition --space-opt base=builds/eftnas-minilm-sst2 --benchmark supernet \
  --benchmark-opt threads=1 --benchmark-opt subsample=300 \
  --strategies "do(steps=100,lam=1.5),sdo(steps=100,lam=1),nsga2(against=latency_ms),rs" \
  --seeds 1 --budget-seconds 400 --workers 2 --store "$out/sweep.sqlite" --json > "$out/sweep.json" 2> "$out/sweep.log"
nasbench-txf leaderboard publish "$out/sweep.sqlite" --out docs/leaderboard-composition \
  --markdown docs/leaderboard-composition.md > "$out/publish.log" 2>&1
