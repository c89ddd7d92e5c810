#!/usr/bin/env bash
# DO and SDO at three values of lambda each on MiniLM-L6 fine-tuned on SST-2 (the base of the
# EFTNAS build builds/eftnas-minilm-sst2), extracted and timed (../searches.sh). Resumable.
set -euo pipefail
cd "$(dirname "$0")/../../.."
builds/composition/searches.sh builds/eftnas-minilm-sst2 builds/composition/minilm-sst2
