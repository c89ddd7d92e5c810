#!/usr/bin/env bash
# The small base (MiniLM-L6 cut to three layers, make_base.py) fine-tuned on SST-2 by the first
# stage of `nasbench-txf eftnas build` (the build's later stages are not used by the composition
# space; supernet_steps=1 keeps them short), then DO and SDO at three values of lambda each, as for
# MiniLM-L6 (../minilm-sst2/run.sh). Every step is resumable: run the script again after a kill.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=builds/composition/minilm-l3
base="$out/build"
[ -f "$out/base/model.safetensors" ] || python "$out/make_base.py" "$out/base"
nasbench-txf eftnas build --base "$out/base" --task sst2 --data-dir ../shared/data/glue --out "$out/build" \
  --build-opt train_size=16000 --build-opt finetune_epochs=2 --build-opt supernet_steps=1 \
  --build-opt max_len=64 --build-opt seq_len=64 --build-opt c_min=70000000 \
  --build-opt finetune_lr=5e-5 --build-opt threads=2 --json > "$out/build.json" 2> "$out/build.log"
for spec in "do 1.5" "sdo 2" "do 3" "sdo 1" "sdo 0.5" "do 0.5"; do
  set -- $spec
  name="$1-lam$2"
  if [ ! -f "$out/$name.json" ]; then
    if [ ! -s "$out/$name.run.json" ]; then
      resume=(); [ -f "$out/$name.sqlite" ] && resume=(--resume)
      nasbench-txf run "${resume[@]}" --space composition --space-opt base="$base" --strategy "$1" \
        --strategy-opt lam="$2" --strategy-opt steps=300 --benchmark supernet --benchmark-opt threads=2 --budget 1 \
        --store "$out/$name.sqlite" --json > "$out/$name.run.json.part" 2>> "$out/$name.log"
      mv "$out/$name.run.json.part" "$out/$name.run.json"
    fi
    nasbench-txf composition extract --run "$out/$name.sqlite" --space-opt base="$out/build" \
      --benchmark-opt threads=2 --out "$out/$name.files/extracted" --json > "$out/$name.json" 2>> "$out/$name.log"
  fi
done
