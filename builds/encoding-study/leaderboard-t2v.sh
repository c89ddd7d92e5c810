#!/usr/bin/env bash
# t2v on the built-in leaderboard's terms (surrogate, 100 queries, seeds 0-9, the same cells as
# `tox -e leaderboard`) for the three model-based strategies, with t2v as it is fitted now; the
# rows to compare with are the t2v rows of docs/leaderboard.md, published with the paper's fit.
# Resumable: run it again after a kill.
set -euo pipefail
cd "$(dirname "$0")/../.."
store=runs/leaderboard-t2v.sqlite
nasbench-txf sweep --space flexibert --strategies gp-bo,bananas,boshnas --encodings t2v --seeds 10 --budget 100 \
  --workers 2 --store "$store"
nasbench-txf leaderboard publish "$store" --out builds/encoding-study/leaderboard-t2v \
  --markdown builds/encoding-study/leaderboard-t2v.md
