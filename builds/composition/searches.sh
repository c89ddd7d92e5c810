#!/usr/bin/env bash
# One-shot searches on the composition space of BASE (an `eftnas build` folder) into OUT: each
# run's store, summary and log, then its selected model extracted and timed against the base
# (NAME.json, read by table.py). Resumable: a finished run is not trained again, a killed one
# continues from its checkpoint.
#     builds/composition/searches.sh BASE OUT [STRATEGY:LAMBDA[:OPT=VALUE,...] ...]
# Without searches: DO and SDO at three values of lambda each. $STEPS (300) training steps of 32
# rows; $OPTIONS (space-separated OPT=VALUE) go to every search.
# A run is named STRATEGY-lamLAMBDA, so OUT holds one setting of each strategy and lambda.
# REEXTRACT=1 extracts and times finished runs again (e.g. after a change to extraction).
set -euo pipefail
base=$1 out=$2
shift 2
specs=("$@")
[ ${#specs[@]} -gt 0 ] || specs=(do:1.5 sdo:2 do:3 sdo:1 sdo:0.5 do:0.5)
for spec in "${specs[@]}"; do
  IFS=: read -r strategy lam extra <<< "$spec"
  name="$strategy-lam$lam"
  [ -f "$out/$name.json" ] && [ "${REEXTRACT:-0}" != 1 ] && continue
  if [ ! -s "$out/$name.run.json" ]; then
    opts=(--strategy-opt lam="$lam" --strategy-opt steps="${STEPS:-300}")
    for option in ${OPTIONS:-} ${extra//,/ }; do opts+=(--strategy-opt "$option"); done
    resume=(); [ -f "$out/$name.sqlite" ] && resume=(--resume)
    nasbench-txf run "${resume[@]}" --space composition --space-opt base="$base" --strategy "$strategy" "${opts[@]}" \
      --benchmark supernet --benchmark-opt threads=2 --budget 1 \
      --store "$out/$name.sqlite" --json > "$out/$name.run.json.part" 2>> "$out/$name.log"
    mv "$out/$name.run.json.part" "$out/$name.run.json"
  fi
  rm -rf "$out/$name.files/extracted" "$out/$name.json"  # a failed extraction leaves the run not extracted
  nasbench-txf composition extract --run "$out/$name.sqlite" --space-opt base="$base" \
    --benchmark-opt threads=2 --out "$out/$name.files/extracted" --json > "$out/$name.json.part" 2>> "$out/$name.log"
  mv "$out/$name.json.part" "$out/$name.json"
done
