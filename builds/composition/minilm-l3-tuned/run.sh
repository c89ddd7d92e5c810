#!/usr/bin/env bash
# The small base (../minilm-l3: MiniLM-L6 cut to three layers, fine-tuned on SST-2) searched as
# ../minilm-sst2-tuned searches MiniLM-L6: distillation from the base, 300 tuning steps after the
# search, DO's connections rounded. Extracted and timed (../searches.sh). Resumable.
set -euo pipefail
cd "$(dirname "$0")/../../.."
OPTIONS="tune_steps=300 distill=0.9" builds/composition/searches.sh builds/composition/minilm-l3/build \
  builds/composition/minilm-l3-tuned sdo:1.5 do:2:links=rounded
