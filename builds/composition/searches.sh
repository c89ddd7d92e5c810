#!/usr/bin/env bash
# DO and SDO at three values of lambda each on the composition space of BASE (an `eftnas build`
# folder), 300 training steps of 32 rows, into OUT: each run's store, summary and log, then its
# selected model extracted and timed against the base (NAME.json, read by table.py). Resumable:
# a finished run is not trained again, a killed one continues from its checkpoint.
#     builds/composition/searches.sh BASE OUT
set -euo pipefail
base=$1 out=$2
for spec in "do 1.5" "sdo 2" "do 3" "sdo 1" "sdo 0.5" "do 0.5"; do
  set -- $spec
  name="$1-lam$2"
  [ -f "$out/$name.json" ] && continue
  if [ ! -s "$out/$name.run.json" ]; then
    resume=(); [ -f "$out/$name.sqlite" ] && resume=(--resume)
    nasbench-txf run "${resume[@]}" --space composition --space-opt base="$base" --strategy "$1" \
      --strategy-opt lam="$2" --strategy-opt steps=300 --benchmark supernet --benchmark-opt threads=2 --budget 1 \
      --store "$out/$name.sqlite" --json > "$out/$name.run.json.part" 2>> "$out/$name.log"
    mv "$out/$name.run.json.part" "$out/$name.run.json"
  fi
  nasbench-txf composition extract --run "$out/$name.sqlite" --space-opt base="$base" \
    --benchmark-opt threads=2 --out "$out/$name.files/extracted" --json > "$out/$name.json" 2>> "$out/$name.log"
done
