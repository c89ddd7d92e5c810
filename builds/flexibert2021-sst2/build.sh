#!/usr/bin/env bash
# A table of the 2021 FlexiBERT space [FLEXIBERT21] measured on SST-2 with the live benchmark
# at a small recipe (4,000 training sentences, 2 epochs, 64 tokens, learning rate 3e-4,
# dev set of 872 sentences), 120 random cards, 12 of them measured with a second seed.
# One process, one thread. Resumable: run it again after a kill. `export.sh` then writes it
# in the paper's card notation, the format `bench import` reads (docs/encodings.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
glue=${GLUE:-../shared/data/glue}
/usr/bin/time -v nasbench-txf bench build --space flexibert-2021 --task sst2 --n 120 --seeds 2 --repeated 12 \
  --sample-seed 2021 --workers 1 --out builds/flexibert2021-sst2/table \
  --benchmark-opt data_dir="$glue" --benchmark-opt train_size=4000 --benchmark-opt holdout_size=0 \
  --benchmark-opt epochs=2 --benchmark-opt max_len=64 --benchmark-opt batch_size=32 --benchmark-opt lr=3e-4 \
  --benchmark-opt vocab_size=4000 --benchmark-opt threads=1
