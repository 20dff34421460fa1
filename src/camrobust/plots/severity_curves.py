"""Severity curves: Consistency and Responsiveness versus noise severity, with class-change bars."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from camrobust import vocabulary
from camrobust.plots.style import cam_colors, cam_legend, cam_order, new_figure, noise_label, noise_order, save
from camrobust.plots.summary_rows import change_share, per_severity, require_columns, select

CURVES = (vocabulary.CONSISTENCY, vocabulary.RESPONSIVENESS)
"""One row of panels per score; RM is their product and adds no curve of its own."""
_SET_OF = {score.name: set_name for set_name, score in vocabulary.SET_SCORES.items()}
HOLLOW = "no CI: fewer than min_n images"


def severity_curves(summary: pd.DataFrame, dataset: str, model: str, path: str | Path, *, max_columns: int = 4) -> None:
    """:func:`severity_curves_figure` saved at ``path``."""
    save(severity_curves_figure(summary, dataset, model, max_columns=max_columns), path)


def severity_curves_figure(summary: pd.DataFrame, dataset: str, model: str, *, max_columns: int = 4) -> Figure:
    """Consistency and Responsiveness vs severity, one column per noise, one line per CAM.

    Bands are the bootstrap 95% CIs (``*_lo`` / ``*_hi``); a point without a CI (its set has
    fewer than min_n images) is drawn hollow, without a band. Lines are dodged slightly along x
    so that equal values stay visible. Below each column, grey bars give the share of images
    whose predicted class changed, n_changed / (n_same + n_changed), with the counts: where it
    is 0 % Responsiveness is undefined (NaN, no point drawn), where it is 100 % Consistency is.
    Noises wrap after ``max_columns`` columns.
    """
    rows = per_severity(select(summary, dataset, model))
    bounds = [f"{score.name}_{end}" for score in CURVES for end in ("lo", "hi")]
    require_columns(rows, ["n_same", "n_changed", *bounds], "robustness summary")
    if rows.empty:
        raise ValueError(f"no per-severity rows for dataset={dataset!r}, model={model!r} (only pooled rows)")
    noises = noise_order(rows["noise"])
    cams = cam_order(rows["cam"])
    colors = cam_colors(cams)
    shares = change_share(rows, ["noise", "severity"])
    dodge = min(0.05, 0.4 / len(cams))  # small x offset per CAM so equal values stay visible
    n_cols = min(len(noises), max_columns)
    n_blocks = math.ceil(len(noises) / n_cols)

    figure = new_figure(1.3 + 2.5 * n_cols + 1.5, 5.2 * n_blocks)
    grid = figure.add_gridspec(3 * n_blocks, n_cols, height_ratios=[3, 3, 1.4] * n_blocks)
    first_ax: dict[int, Axes] = {}
    for position, noise in enumerate(noises):
        block, col = divmod(position, n_cols)
        noise_rows = rows[rows["noise"] == noise]
        severities = sorted(noise_rows["severity"].unique())
        top = figure.add_subplot(grid[3 * block, col], sharey=first_ax.get(0))
        axes = [
            top,
            *(figure.add_subplot(grid[3 * block + r, col], sharex=top, sharey=first_ax.get(r)) for r in (1, 2)),
        ]
        for r, ax in enumerate(axes):
            first_ax.setdefault(r, ax)
        for ax, score in zip(axes[:2], CURVES):
            _draw_curves(ax, noise_rows, score, cams, colors, dodge)
            ax.set_ylim(-0.03, 1.03)
            ax.set_xticks(severities)
            ax.tick_params(labelbottom=False, labelsize=8)
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel(f"{score.label}\n(0–1)", fontsize=9)
            else:
                ax.tick_params(labelleft=False)
        axes[0].set_title(noise_label(noise), fontsize=10)
        _draw_change_bars(axes[2], shares[shares["noise"] == noise], severities, first_column=col == 0)
    band = Line2D([], [], color="#757575", linewidth=6, alpha=0.3, label="95% bootstrap CI")
    hollow = Line2D(
        [], [], linestyle="", marker="o", markersize=4, markerfacecolor="white", markeredgecolor="#757575", label=HOLLOW
    )
    cam_legend(figure, cams, colors, [band, hollow])
    title = f"{vocabulary.CONSISTENCY.label} and {vocabulary.RESPONSIVENESS.label} vs noise severity"
    figure.suptitle(f"{dataset} / {model} — {title}", fontsize=11)
    return figure


def _draw_curves(
    ax: Axes,
    noise_rows: pd.DataFrame,
    score: vocabulary.Score,
    cams: list[str],
    colors: dict[str, str],
    dodge: float,
) -> None:
    """One line per CAM with its CI band; a note where the score is undefined at every severity."""
    metric = score.name
    for i, cam in enumerate(cams):
        line = noise_rows[noise_rows["cam"] == cam].sort_values("severity")
        if line.empty:
            continue
        x = line["severity"].to_numpy() + dodge * (i - (len(cams) - 1) / 2)
        ax.fill_between(
            x,
            line[f"{metric}_lo"].to_numpy(float),
            line[f"{metric}_hi"].to_numpy(float),
            color=colors[cam],
            alpha=0.15,
            linewidth=0,
        )
        values = line[metric].to_numpy(float)
        supported = np.isfinite(line[f"{metric}_lo"].to_numpy(float))
        ax.plot(x, values, color=colors[cam], linewidth=1.6)
        ax.plot(x[supported], values[supported], linestyle="", color=colors[cam], marker="o", markersize=3.5)
        thin = ~supported & np.isfinite(values)
        ax.plot(
            x[thin],
            values[thin],
            linestyle="",
            marker="o",
            markersize=3.8,
            markerfacecolor="white",
            markeredgecolor=colors[cam],
        )
    if noise_rows[metric].isna().all():
        ax.text(
            0.5,
            0.5,
            f"undefined at every severity:\nno {vocabulary.SETS[_SET_OF[metric]]}",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=8,
            color="#616161",
        )


def _draw_change_bars(ax: Axes, share: pd.DataFrame, severities: list[int], *, first_column: bool) -> None:
    """Grey bars of the share of class changes per severity, labelled changed / scored."""
    bars = ax.bar(share["severity"], 100 * share["share_changed"].fillna(0), color="#9e9e9e", width=0.6)
    for bar, (n_changed, n_total) in zip(bars, share[["n_changed", "n_total"]].itertuples(index=False)):
        ax.annotate(
            f"{n_changed}/{n_total}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 1.5),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=6.5,
        )
    ax.set_ylim(0, 125)
    ax.set_yticks([0, 50, 100])
    ax.set_xticks(severities)
    ax.tick_params(labelsize=8)
    ax.set_xlabel("severity level", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    if first_column:
        ax.set_ylabel("class\nchanged (%)", fontsize=9)
    else:
        ax.tick_params(labelleft=False)
