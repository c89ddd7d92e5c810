"""A study's fits summarised: per encoding, model and training size, the mean over seeds of
each ranking measure with its 95% confidence interval (Student's t over the seeds), and the
encodings ranked per model by their mean Kendall τ across sizes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

MEASURES = ("kendall_tau", "spearman_rho", "top_overlap")


def interval(values: pd.Series) -> float:
    """Half-width of the 95% confidence interval of the mean (NaN for one value)."""
    n = values.count()
    if n < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n))


def summary(fits: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (model, encoding, size): seeds, then ``<measure>`` and ``<measure>_ci`` each."""
    frame = pd.DataFrame(fits)
    grouped = frame.groupby(["model", "encoding", "size"], sort=False)
    out = grouped.size().rename("seeds").to_frame()
    for measure in MEASURES:
        out[measure] = grouped[measure].mean()
        out[f"{measure}_ci"] = grouped[measure].agg(interval)
    out["seconds"] = grouped["seconds"].mean()
    return out.reset_index()


def mean_tau(table: pd.DataFrame) -> pd.DataFrame:
    """Per model (rows), each encoding's (columns) Kendall τ averaged over the training sizes."""
    return table.groupby(["model", "encoding"], sort=False)["kendall_tau"].mean().unstack("encoding")


def _cell(mean: float, ci: float) -> str:
    return f"{mean:.3f}" if np.isnan(ci) else f"{mean:.3f} ± {ci:.3f}"


def to_markdown(table: pd.DataFrame, settings: dict[str, Any]) -> str:
    """The study as Markdown: one table per measure (models × sizes, one column per encoding)."""
    lines = [f"# Predictor study: {settings['table']} ({settings['space']['name']}, {settings['task']}, "
             f"{settings['metric']})", "",
             f"{settings['archs']} measured archs; training sizes {', '.join(map(str, settings['sizes']))}; "
             f"{settings['seeds']} seeds (the same draws for every encoding and model); the rest of the archs "
             f"ranked. Mean over seeds ± the 95% confidence interval of the mean.", ""]
    encodings = list(dict.fromkeys(table["encoding"]))
    titles = {"kendall_tau": "Kendall τ", "spearman_rho": "Spearman ρ",
              "top_overlap": f"top-{settings['top']:.0%} overlap"}
    for measure in MEASURES:
        lines += [f"## {titles[measure]}", "", "| model | n | " + " | ".join(encodings) + " |",
                  "|---|---|" + "---|" * len(encodings)]
        for (model, size), rows in table.groupby(["model", "size"], sort=False):
            by_encoding = rows.set_index("encoding")
            best = by_encoding[measure].max()
            cells = []
            for encoding in encodings:
                if encoding not in by_encoding.index:
                    cells.append("")
                    continue
                row = by_encoding.loc[encoding]
                text = _cell(row[measure], row[f"{measure}_ci"])
                cells.append(f"**{text}**" if row[measure] == best and len(encodings) > 1 else text)
            lines.append(f"| {model} | {size} | " + " | ".join(cells) + " |")
        lines.append("")
    ranks = mean_tau(table)
    lines += ["## Encodings by mean Kendall τ over the training sizes", "",
              "| model | " + " | ".join(encodings) + " |", "|---|" + "---|" * len(encodings)]
    for model, row in ranks.iterrows():
        lines.append(f"| {model} | " + " | ".join(f"{row.get(e, float('nan')):.3f}" for e in encodings) + " |")
    lines.append("")
    return "\n".join(lines)


def plot(table: pd.DataFrame, path: Path) -> None:
    """Kendall τ against the training size, one panel per model, one line per encoding."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(table["model"]))
    encodings = list(dict.fromkeys(table["encoding"]))
    colours = {e: plt.get_cmap("tab10")(i % 10) for i, e in enumerate(encodings)}
    columns = min(3, len(models))
    rows = -(-len(models) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False,
                                sharey=True)
    for ax, model in zip(axes.flat, models, strict=False):
        for encoding in encodings:
            part = table[(table["model"] == model) & (table["encoding"] == encoding)].sort_values("size")
            if part.empty:
                continue
            ci = part["kendall_tau_ci"].fillna(0)
            ax.plot(part["size"], part["kendall_tau"], marker="o", label=encoding, color=colours[encoding])
            ax.fill_between(part["size"], part["kendall_tau"] - ci, part["kendall_tau"] + ci, alpha=0.15,
                            color=colours[encoding])
        ax.set_title(model)
        ax.set_xscale("log")
        ax.set_xlabel("training archs")
        ax.axhline(0, color="grey", linewidth=0.6)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(models):]:
        ax.set_visible(False)
    axes[0, 0].set_ylabel("Kendall τ on the rest")
    axes[0, 0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110, format="png")
    plt.close(figure)
