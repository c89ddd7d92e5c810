#!/usr/bin/env bash
# One-shot against black-box search on the rebuilt MiniLM-L6/SST-2 base, three seeds, at equal
# simulated compute: do and sdo with the settings that met the goal (distillation, tuning, DO's
# connections rounded; 100 + 100 steps), NSGA-II (accuracy against latency) and random search
# scoring cards with inherited weights, all drawing random cards near the base
# (sample_keep=0.9); every cell 800 simulated seconds, cards scored on 300 dev rows drawn by the
# seed. Resumable: run it again; then it publishes the leaderboard.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=builds/composition/sweep-seeds
nasbench-txf sweep --space composition --space-opt base=builds/eftnas-minilm-sst2 --space-opt sample_keep=0.9 \
  --benchmark supernet --benchmark-opt threads=1 --benchmark-opt subsample=300 \
  --strategies "do(steps=100,lam=2,links=rounded,distill=0.9,tune_steps=100),sdo(steps=100,lam=1.5,distill=0.9,tune_steps=100),nsga2(against=latency_ms),rs" \
  --seeds 3 --budget-seconds 800 --workers 2 --store "$out/sweep.sqlite" --json > "$out/sweep.json" 2>> "$out/sweep.log"
nasbench-txf leaderboard publish "$out/sweep.sqlite" --out docs/leaderboard-composition \
  --markdown docs/leaderboard-composition.md > "$out/publish.log" 2>&1
