#!/usr/bin/env bash
# The predictor study on the 2021-space table, read the way a published table is: exported,
# its cards rewritten in the paper's notation ({l: 2, h: [128, 256], a: [2, 4], f: [...],
# s: [SDP, WMA]}, [FLEXIBERT21 Table 1]), imported with `bench import`, then studied.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=builds/flexibert2021-sst2
work=$(mktemp -d)
nasbench-txf bench export "$here/table" --out "$work/exported.csv"
python - "$work/exported.csv" "$here/flexibert2021-sst2-paper.csv" <<'PY'
import csv, json, sys

def paper(card):
    parts = []
    for key in ("l", "h", "a", "f", "s"):
        value = card[key]
        parts.append(f"{key}: " + (f"[{', '.join(str(v).upper() for v in value)}]" if isinstance(value, list) else str(value)))
    return "{" + ", ".join(parts) + "}"

with open(sys.argv[1]) as source, open(sys.argv[2], "w", newline="") as target:
    rows = [r for r in csv.DictReader(source) if r["status"] == "ok"]
    writer = csv.writer(target)
    writer.writerow(["card", "seed", "accuracy", "loss", "params"])
    for r in rows:
        writer.writerow([paper(json.loads(r["card"])), r["seed"], r["accuracy"], r["loss"], r["params"]])
PY
nasbench-txf bench import "$here/flexibert2021-sst2-paper.csv" --space flexibert-2021 --task sst2 \
  --metric accuracy --metric loss --metric params --minimize loss --minimize params --out "$work/imported"
nasbench-txf study encodings "$work/imported" --encodings "onehot,path,wl,t2v,t2v(neighbour_pairs=0)" \
  --models "gp-bo,bananas,boshnas,lightgbm,ridge,knn,gp-bo(ard_max=1)" --seeds 10 \
  --out builds/encoding-study/flexibert2021-sst2 > /dev/null
rm -rf "$work"
