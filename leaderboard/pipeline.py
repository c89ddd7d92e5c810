"""A pipeline's section of the leaderboard site: each level's best card, the parents that
spanned the next level, knowledge transfer, and the best-so-far curve across levels."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from nasbench_txf.core.arch import canonical_json
from nasbench_txf.run.pipeline_report import PipelineReport, levels_frame, to_markdown, transfer_lines


def curve_plot(report: PipelineReport, path: Path) -> Path:
    """Every successful trial's value (one colour per level) and the best so far, in pipeline order."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.set_title(f"best {report.objective} so far across the pipeline's levels", fontsize=10)
    ax.set_xlabel("trial (all levels, in order)")
    ax.set_ylabel(report.objective)
    ax.grid(alpha=0.3)
    points = report.curve
    x = list(range(1, len(points) + 1))
    for level in sorted({p["level"] for p in points}):
        mine = [(i, p["value"]) for i, p in zip(x, points, strict=True) if p["level"] == level]
        ax.scatter([i for i, _ in mine], [v for _, v in mine], s=14, alpha=0.7, label=f"level {level} trials")
        if mine[0][0] > 1:  # where the level starts
            ax.axvline(mine[0][0] - 0.5, color="grey", lw=0.8, ls=":")
    ax.step(x, [p["best"] for p in points], where="post", color="black", lw=1.5, label="best so far")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown_section(report: PipelineReport, image: str) -> str:
    return to_markdown(report, heading="##") + f"\n![best {report.objective} so far across levels]({image})\n"


def html_section(report: PipelineReport, image: str) -> str:
    table = levels_frame(report).to_html(index=False, border=0, classes="leaderboard")
    cards = "".join(
        f"<h3>Level {lv.level}</h3><p>best card: <code>{html.escape(canonical_json(lv.best_card))}</code></p>"
        + ("<ul>" + "".join(f"<li>{html.escape(p['role'])} ({p['value']:.4f}): "
                            f"<code>{html.escape(canonical_json(p['card']))}</code></li>" for p in lv.parents)
           + "</ul>" if lv.parents else "")
        for lv in report.levels)
    transfer = "".join(f"<p>{html.escape(line)}</p>" for line in transfer_lines(report))
    alt = html.escape(f"best {report.objective} so far across levels")
    return (f"<section><h2>Pipeline: {html.escape(report.objective)}</h2>{table}{cards}"
            f"<h3>Knowledge transfer</h3>{transfer}"
            f'<figure><img src="{html.escape(image)}" alt="{alt}"><figcaption>{alt}</figcaption></figure></section>')
