#!/usr/bin/env bash
# The small base (MiniLM-L6 cut to three layers, make_base.py) fine-tuned on SST-2 by the first
# stage of `nasbench-txf eftnas build` (the build's later stages are not used by the composition
# space; supernet_steps=1 keeps them short), then the same searches as for MiniLM-L6
# (../searches.sh). Every step is resumable: run the script again after a kill.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=builds/composition/minilm-l3
[ -f "$out/base/model.safetensors" ] || python "$out/make_base.py" "$out/base"
nasbench-txf eftnas build --base "$out/base" --task sst2 --data-dir ../shared/data/glue --out "$out/build" \
  --build-opt train_size=16000 --build-opt finetune_epochs=2 --build-opt supernet_steps=1 \
  --build-opt max_len=64 --build-opt seq_len=64 --build-opt c_min=70000000 \
  --build-opt finetune_lr=5e-5 --build-opt threads=2 --json > "$out/build.json" 2>> "$out/build.log"
builds/composition/searches.sh "$out/build" "$out"
