"""Ranking agreement, like with like: the CAM ranking by RBO's RM beside the rankings by the RM
built from each complementary similarity (:mod:`camrobust.analysis.agreement`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from camrobust.analysis.agreement import measure_labels
from camrobust.plots.style import cam_colors, cam_label, cam_legend, cam_order, new_figure, save
from camrobust.plots.summary_rows import require_columns


def ranking_agreement(table: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Bump chart of :func:`camrobust.analysis.agreement.ranking_agreement`'s table, one panel per
    (dataset, model): x = the measure RM is built from (RBO first), y = rank (1 = most robust, on
    top), one line per CAM; above each measure Kendall's tau with RBO's ranking and its CI.
    Returns the table it drew."""
    require_columns(table, ["dataset", "model", "cam", "rank_rbo"], "ranking agreement table")
    names = [column.removeprefix("rank_") for column in table.columns if column.startswith("rank_")]
    pairs = sorted(set(zip(table["dataset"], table["model"])))
    if not pairs:
        raise ValueError("ranking agreement table is empty")
    _draw(table, pairs, names, path)
    return table


def _tau_text(tau: float, low: float, high: float) -> str:
    if not np.isfinite(tau):
        return "τ n/a"
    interval = f"\n[{low:+.2f}, {high:+.2f}]" if np.isfinite(low) else "\n(no CI)"
    return f"τ = {tau:+.2f}{interval}".replace("-", "−")


def _draw(table: pd.DataFrame, pairs: Sequence[tuple[str, str]], names: Sequence[str], path: str | Path) -> None:
    """x = measure, y = rank (1 on top), one line per CAM, tau with its CI above each measure."""
    labels = measure_labels(names)
    x_labels = [f"RM from {labels[name]}" for name in names]
    columns = [f"rank_{name}" for name in names]
    cams = cam_order(table["cam"])
    colors = cam_colors(cams)
    n_cams = table.groupby(["dataset", "model"]).size().max()
    n_cols = min(len(pairs), 3)
    n_rows = math.ceil(len(pairs) / n_cols)
    figure = new_figure(1.0 + n_cols * (1.0 * len(names) + 0.8) + 1.6, n_rows * (2.4 + 0.38 * n_cams))
    axes = np.atleast_1d(figure.subplots(n_rows, n_cols, squeeze=False).ravel())
    x = np.arange(len(names))
    for ax, (dataset, model) in zip(axes, pairs):
        rows = table[(table["dataset"] == dataset) & (table["model"] == model)]
        for _, row in rows.iterrows():
            ax.plot(
                x,
                row[columns].to_numpy(float),
                color=colors[row["cam"]],
                marker="o",
                markersize=5,
                linewidth=1.8,
                alpha=0.9,
            )
        first = rows.iloc[0]
        taus = ["", *(_tau_text(*(first[f"tau_{name}{end}"] for end in ("", "_lo", "_hi"))) for name in names[1:])]
        for xi, tau in zip(x, taus):
            ax.annotate(
                tau,
                (xi, 1.0),
                xytext=(0, 4),
                xycoords=("data", "axes fraction"),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
        ax.set_xticks(x, x_labels, rotation=30, ha="right", rotation_mode="anchor", fontsize=8)
        ax.set_ylim(len(rows) + 0.5, 0.5)
        by_rank = rows.groupby("rank_rbo", sort=True)["cam"].agg(list)
        ax.set_yticks(
            by_rank.index,
            [f"{', '.join(cam_label(c) for c in group)}  {rank:g}" for rank, group in by_rank.items()],
            fontsize=8,
        )
        for tick, group in zip(ax.get_yticklabels(), by_rank):
            tick.set_color(colors[group[0]] if len(group) == 1 else "black")
        if ax is axes[0]:
            ax.set_ylabel("rank\n(1 = most robust)", fontsize=8.5)
        ax.set_xlim(-0.3, len(names) - 0.7)
        ax.grid(axis="y", alpha=0.3)
        ax.axvline(0, color="#bdbdbd", linewidth=6, alpha=0.4, zorder=0)
        ax.set_title(f"{dataset} / {model} (N = {int(first['n_images'])} images)", fontsize=10, pad=24)
    for ax in axes[len(pairs) :]:
        ax.set_visible(False)
    cam_legend(figure, cams, colors)
    figure.suptitle(
        "CAM ranking by RM built from RBO vs from each complementary similarity (same split by prediction change)\n"
        "left labels: methods in the RBO ranking's order; τ = Kendall tau with it [bootstrap CI over images]",
        fontsize=10,
    )
    save(figure, path)
