#!/usr/bin/env bash
# DO and SDO on MiniLM-L6 fine-tuned on SST-2 (as ../minilm-sst2), each search followed by 300
# steps that train its selected card (tune_steps), both with distillation from the base
# (distill=0.9); DO selects its connections by rounding (links=rounded). Extracted and timed
# (../searches.sh). Resumable.
set -euo pipefail
cd "$(dirname "$0")/../../.."
OPTIONS="tune_steps=300 distill=0.9" builds/composition/searches.sh builds/eftnas-minilm-sst2 \
  builds/composition/minilm-sst2-tuned sdo:1.5 do:2:links=rounded sdo:1 do:4:links=rounded sdo:2 do:3:links=rounded
