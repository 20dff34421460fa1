"""The trust figure: every CAM against every score of the trust axes, ranks and values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from camrobust import vocabulary
from camrobust.plots.style import cam_label, nan_cell, new_figure, save, text_color

RANK_CMAP = "viridis_r"
"""Rank colours: rank 1 (the best) the brightest."""
BASELINE_MARK = " (baseline)"


def trust_cells(summary: pd.DataFrame, dataset: str, model: str) -> pd.DataFrame:
    """Long table (cam, score, value, rank, baseline) of one (dataset, model) of the trust summary:
    the scores present in axis order, the CAMs by their mean rank over those scores (best first)."""
    rows = summary[(summary["dataset"] == dataset) & (summary["model"] == model)]
    if rows.empty:
        raise ValueError(f"trust summary has no rows for dataset={dataset!r}, model={model!r}")
    scores = [
        score
        for axis in vocabulary.AXES
        for score in axis.scores
        if score.name in rows.columns and rows[score.name].notna().any()
    ]
    ranks = rows[[f"{score.name}_rank" for score in scores]].mean(axis=1)
    order = rows.assign(_mean=ranks).sort_values(["_mean", "cam"], na_position="last")
    cells = [
        {
            "cam": row.cam,
            "score": score.name,
            "value": float(getattr(row, score.name)),
            "rank": float(getattr(row, f"{score.name}_rank")),
            "baseline": bool(row.baseline),
        }
        for row in order.itertuples(index=False)
        for score in scores
    ]
    return pd.DataFrame(cells, columns=["cam", "score", "value", "rank", "baseline"])


def trust_figure(summary: pd.DataFrame) -> Figure:
    """CAM x score heat-maps, one per (dataset, model) of the trust summary, one above the other:
    colour = the CAM's rank on the score (1 = best, in the score's own direction), text = the
    value and its rank; the baseline maps labelled, in grey italics, under a dotted line."""
    experiments = list(
        summary[["dataset", "model"]].drop_duplicates().sort_values(["dataset", "model"]).itertuples(index=False)
    )
    if not experiments:
        raise ValueError("trust summary: no rows to draw")
    panels = [trust_cells(summary, dataset, model) for dataset, model in experiments]
    n_scores = max(panel["score"].nunique() for panel in panels)
    heights = [max(1, panel["cam"].nunique()) for panel in panels]
    figure = new_figure(2.6 + 0.95 * n_scores, 1.2 + sum(1.3 + 0.34 * h for h in heights))
    axes = figure.subplots(len(panels), 1, squeeze=False, height_ratios=[h + 3 for h in heights])[:, 0]
    for ax, panel, (dataset, model) in zip(axes, panels, experiments, strict=True):
        _draw(ax, panel, figure)
        ax.set_title(f"{dataset} / {model}", fontsize=9.5)
    figure.suptitle("Which CAM to trust: rank per score (1 = best) and value", fontsize=10.5)
    return figure


def _draw(ax: Axes, cells: pd.DataFrame, figure: Figure) -> None:
    cams = list(dict.fromkeys(cells["cam"]))
    scores = list(dict.fromkeys(cells["score"]))
    by_name = {score.name: score for axis in vocabulary.AXES for score in axis.scores}
    cmap = colormaps[RANK_CMAP]
    norm = Normalize(1, max(2, len(cams)))
    ranks = cells["rank"].to_numpy(float).reshape(len(cams), len(scores))
    values = cells["value"].to_numpy(float).reshape(len(cams), len(scores))
    image = ax.imshow(np.ma.masked_invalid(ranks), cmap=cmap, norm=norm, aspect="auto")
    for (i, j), rank in np.ndenumerate(ranks):
        if not np.isfinite(rank):
            nan_cell(ax, j, i, "n/a")
            continue
        color = text_color(cmap(norm(rank)))
        value = round(float(values[i, j]), 2) + 0.0  # no "-0.00" for a value a rounding error below 0
        ax.text(j, i, f"{value:.2f}\n#{rank:.0f}", ha="center", va="center", fontsize=6.5, color=color)
    baseline = cells.drop_duplicates("cam").set_index("cam")["baseline"]
    labels = [cam_label(cam) + (BASELINE_MARK if baseline[cam] else "") for cam in cams]
    ax.set_yticks(range(len(cams)), labels, fontsize=8)
    for tick, cam in zip(ax.get_yticklabels(), cams, strict=True):
        if baseline[cam]:
            tick.set_fontstyle("italic")
            tick.set_color("#616161")
    ax.set_xticks(
        range(len(scores)),
        [f"{by_name[s].label} ({'higher' if by_name[s].higher_is_better else 'lower'} better)" for s in scores],
        rotation=35,
        ha="right",
        rotation_mode="anchor",
        fontsize=7.5,
    )
    for i, cam in enumerate(cams):
        if baseline[cam] and (i == 0 or not baseline[cams[i - 1]]):
            ax.axhline(i - 0.5, color="#212121", linewidth=1.0, linestyle=":")
    ax.set_xticks(np.arange(len(scores) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(cams) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1.0)
    ax.tick_params(which="minor", length=0)
    ax.set_ylabel("CAM method (by mean rank)", fontsize=8)
    colorbar = figure.colorbar(image, ax=ax, shrink=0.9, aspect=20, pad=0.02)
    colorbar.set_label("rank (1 = best)", fontsize=7.5)
    colorbar.ax.tick_params(labelsize=7)


def trust(summary: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Draw :func:`trust_figure` at ``path``; returns the drawn cells with their dataset and model."""
    experiments = summary[["dataset", "model"]].drop_duplicates().sort_values(["dataset", "model"])
    cells = [
        trust_cells(summary, dataset, model).assign(dataset=dataset, model=model)
        for dataset, model in experiments.itertuples(index=False)
    ]
    save(trust_figure(summary), path)
    return pd.concat(cells, ignore_index=True)
