"""The robustness heat-map: Consistency, Responsiveness and RM per CAM method and noise type."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from camrobust import vocabulary
from camrobust.plots.style import (
    SCORE_CMAP,
    cam_label,
    nan_cell,
    new_figure,
    noise_label,
    noise_order,
    save,
    text_color,
)
from camrobust.plots.summary_rows import POOLED, is_pooled, require_columns, select

PANELS = vocabulary.ROBUSTNESS
"""One heat-map per score, sharing one colour scale: they are all unitless in [0, 1]."""

_REASON_PATTERNS = {
    "no preserving": r"unchang|same|preserv|kept|consisten",
    "no changing": r"chang|flip|respons",
    "flat CAM": r"flat|constant|tie",
    "NaN score": r"\bnan\b",
}
_SCORE_REASON = {vocabulary.CONSISTENCY.name: "no preserving", vocabulary.RESPONSIVENESS.name: "no changing"}
OVERLAP_LABEL = "CI overlaps the best's"
NO_CI_LABEL = "* fewer than min_n images: no CI"


def robustness_heatmap(summary: pd.DataFrame, dataset: str, model: str, path: str | Path) -> pd.DataFrame:
    """Consistency, Responsiveness and RM as three cam x noise heat-maps (pooled severities).

    Rows are CAM methods sorted by mean RM over noises (highest first); cells carry the value
    (2 decimals) or, where it is NaN, a grey hatched cell with the abbreviated reason. In each
    column of a panel the highest value is bold, and a white dot marks every other cell whose
    bootstrap CI overlaps the best one's (the order between them is not established); a value
    without a CI (fewer than min_n images) carries a "*". One viridis colour bar (0-1) serves the
    three panels. Returns the drawn cells (cam, noise, metric, value, lo, hi, text, best,
    overlaps_best) in drawing order.
    """
    cells = _pooled_cells(summary, dataset, model)
    save(_draw(cells, dataset, model), path)
    return cells


def robustness_heatmap_figure(summary: pd.DataFrame, dataset: str, model: str) -> Figure:
    """The figure of :func:`robustness_heatmap`, unsaved."""
    return _draw(_pooled_cells(summary, dataset, model), dataset, model)


def _short_reason(reason: object, metric: str) -> str:
    """One to three words for a NaN cell, from the summary row's ``reason``.

    A reason may name several causes; a Consistency cell prefers the one about class-preserving
    images, a Responsiveness cell the one about class changes. Unknown reasons are truncated.
    """
    text = "" if reason is None or (isinstance(reason, float) and math.isnan(reason)) else str(reason).strip()
    if not text:
        return "no data"
    preferred = _SCORE_REASON.get(metric)
    for short in sorted(_REASON_PATTERNS, key=lambda name: name != preferred):
        if re.search(_REASON_PATTERNS[short], text.lower()):
            return short
    first = text.split(";")[0].strip()
    return first if len(first) <= 14 else first[:13] + "…"


def _pooled_cells(summary: pd.DataFrame, dataset: str, model: str) -> pd.DataFrame:
    rows = select(summary, dataset, model)
    needed = [f"{score.name}{suffix}" for score in PANELS for suffix in ("", "_lo", "_hi")]
    require_columns(rows, needed, "robustness summary")
    pooled = rows[is_pooled(rows["severity"])]
    if pooled.empty:
        raise ValueError(f"no pooled rows (severity == {POOLED!r}) for dataset={dataset!r}, model={model!r}")
    return _heatmap_cells(pooled)


def _heatmap_cells(pooled: pd.DataFrame) -> pd.DataFrame:
    """Long table (cam, noise, metric, value, text) in drawing order: cams by RM descending."""
    duplicated = pooled.duplicated(["cam", "noise"])
    if duplicated.any():
        pairs = pooled.loc[duplicated, ["cam", "noise"]].values.tolist()
        raise ValueError(f"summary has several pooled rows for (cam, noise) {pairs}")
    noises = noise_order(pooled["noise"])
    mean_rm = pooled.groupby("cam")[vocabulary.RM.name].mean()
    cams = sorted(mean_rm.index, key=lambda c: (np.isnan(mean_rm[c]), -np.nan_to_num(mean_rm[c]), c))
    indexed = pooled.set_index(["cam", "noise"])
    cells = []
    for score in PANELS:
        metric = score.name
        for cam in cams:
            for noise in noises:
                present = (cam, noise) in indexed.index
                row = indexed.loc[(cam, noise)] if present else None
                value, low, high = (
                    (float(row[metric]), float(row[f"{metric}_lo"]), float(row[f"{metric}_hi"]))
                    if row is not None
                    else (np.nan, np.nan, np.nan)
                )
                if np.isfinite(value):
                    text = f"{value:.2f}" + ("" if np.isfinite(low) else "*")
                else:
                    text = f"n/a:\n{_short_reason(row.get('reason', '') if row is not None else None, metric)}"
                cells.append(
                    {"cam": cam, "noise": noise, "metric": metric, "value": value, "lo": low, "hi": high, "text": text}
                )
    return _mark_overlaps(pd.DataFrame(cells))


def _mark_overlaps(cells: pd.DataFrame) -> pd.DataFrame:
    """``best``: the highest value of its (metric, noise); ``overlaps_best``: another cell whose CI
    overlaps the best cell's CI (both CIs present)."""
    cells = cells.assign(best=False, overlaps_best=False)
    for _, column in cells.groupby(["metric", "noise"], sort=False):
        finite = column[np.isfinite(column["value"])]
        if finite.empty:
            continue
        best = finite["value"].idxmax()
        cells.loc[best, "best"] = True
        low, high = cells.loc[best, "lo"], cells.loc[best, "hi"]
        if not (np.isfinite(low) and np.isfinite(high)):
            continue
        others = finite.drop(index=best)
        overlapping = others.index[(others["lo"] <= high) & (others["hi"] >= low)]
        cells.loc[overlapping, "overlaps_best"] = True
    return cells


def _shared_direction() -> str:
    directions = {score.direction for score in PANELS}
    assert len(directions) == 1, f"the panels share one colour bar, so one direction: {directions}"
    return directions.pop()


def _draw(cells: pd.DataFrame, dataset: str, model: str) -> Figure:
    cams = list(dict.fromkeys(cells["cam"]))
    noises = list(dict.fromkeys(cells["noise"]))
    cmap = colormaps[SCORE_CMAP]
    norm = Normalize(0.0, 1.0)

    figure = new_figure(1.6 + 3 * (0.62 * len(noises) + 0.25) + 0.9, 1.9 + 0.42 * len(cams))
    axes = figure.subplots(1, 3, sharey=True)
    for ax, score in zip(axes, PANELS):
        panel = cells[cells["metric"] == score.name]
        matrix = panel["value"].to_numpy(float).reshape(len(cams), len(noises))
        image = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, norm=norm, aspect="auto")
        for (i, j), value in np.ndenumerate(matrix):
            cell = panel.iloc[i * len(noises) + j]
            if not np.isfinite(value):
                nan_cell(ax, j, i, cell["text"])
                continue
            color = text_color(cmap(norm(value)))
            weight = "bold" if cell["best"] else "normal"
            ax.text(j, i, cell["text"], ha="center", va="center", fontsize=7.5, color=color, fontweight=weight)
            if cell["overlaps_best"]:
                ax.plot(
                    j + 0.33,
                    i - 0.3,
                    marker="o",
                    markersize=3.2,
                    markerfacecolor="white",
                    markeredgecolor="black",
                    markeredgewidth=0.6,
                )
        ax.set_title(score.label, fontsize=10)
        ax.set_xticks(
            range(len(noises)),
            [noise_label(n) for n in noises],
            rotation=45,
            ha="right",
            rotation_mode="anchor",
            fontsize=8,
        )
        ax.set_yticks(range(len(cams)), [cam_label(c) for c in cams], fontsize=8.5)
        ax.set_xticks(np.arange(len(noises) + 1) - 0.5, minor=True)
        ax.set_yticks(np.arange(len(cams) + 1) - 0.5, minor=True)
        ax.grid(which="minor", color="white", linewidth=1.0)
        ax.tick_params(which="minor", length=0)
        ax.set_xlabel("noise type", fontsize=8.5)
    axes[0].set_ylabel("CAM method (sorted by mean RM)", fontsize=8.5)
    colorbar = figure.colorbar(image, ax=list(axes), shrink=0.9, aspect=25, pad=0.02)
    colorbar.set_label(f"score (unitless, 0–1; {_shared_direction()})", fontsize=8.5)
    colorbar.ax.tick_params(labelsize=8)
    figure.suptitle(f"{dataset} / {model} — CAM robustness pooled over severities", fontsize=11)
    marker = Line2D([], [], linestyle="", marker="o", markersize=4, markerfacecolor="white", markeredgecolor="black")
    figure.legend(
        [marker, Line2D([], [], linestyle="")],
        [f"{OVERLAP_LABEL} (bold: highest in its column)", NO_CI_LABEL],
        loc="outside lower center",
        ncols=2,
        fontsize=7.5,
        frameon=False,
    )
    return figure
