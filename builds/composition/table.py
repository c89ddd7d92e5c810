"""The results of a composition study as a Markdown table like [COMPOSE20 Table 7]: one row per
one-shot search (the `NAME.json` report of `nasbench-txf composition extract --run` and the
`NAME.sqlite` store of its run, both written by the folder's run.sh), with the base first.

    python builds/composition/table.py builds/composition/minilm-sst2
"""

import json
import sys
from pathlib import Path

from nasbench_txf.run.store import Store

folder = Path(sys.argv[1])
paths = sorted((p for p in folder.glob("*-lam*.json") if not p.name.endswith(".run.json")),
               key=lambda p: (p.stem.split("-")[0], float(p.stem.split("lam")[1])))
reports = {path: json.loads(path.read_text()) for path in paths}
first = next(iter(reports.values()), None)
# reports of extract since the transformers base is timed too: the speed-up against it as well
against = bool(reports) and all("speedup_against_transformers" in r for r in reports.values())
print("| search | λ | dev accuracy | Δ vs base | speed-up |" + (" vs transformers |" if against else "")
      + " parameters | MACs | dropped or changed | training |")
print("|---|---|---|---|---|" + ("---|" if against else "") + "---|---|---|---|")
if first:
    base = first["base_scores"]["dev"]["accuracy"]
    reference = f" 1.00× ({first['transformers_latency_ms']:.1f} ms) |" if against else ""
    print(f"| the fine-tuned base | – | {100 * base:.2f}% | – | 1.00× ({first['base_latency_ms']:.1f} ms) |"
          f"{reference} {first['base_params'] / 1e6:.2f} M | 100% | – | – |")
for path, r in reports.items():
    strategy, lam = path.stem.split("-lam")
    with Store.open(folder / f"{path.stem}.sqlite", create=False) as store:
        (cell,) = store.cells()
        seconds = store.trials(cell.cell_id)[0].reported_seconds
    changed = ", ".join(f"{kind} {text}" for kind, text in r["changed"].items() if not text.startswith("0 of"))
    accuracy = r["extracted"]["accuracy"]
    params = f"{r['params'] / 1e6:.2f} M ({100 * r['params_fraction']:.0f}%)"
    reference = f" {r['speedup_against_transformers']:.2f}× |" if against else ""
    print(f"| `{strategy}` | {lam} | {100 * accuracy:.2f}% | {100 * (accuracy - base):+.2f} | "
          f"{r['speedup']:.2f}× ({r['latency_ms']:.1f} ms) |{reference} {params} | {100 * r['macs_fraction']:.0f}% | "
          f"{changed or 'nothing'} | {seconds:.0f} s |")
