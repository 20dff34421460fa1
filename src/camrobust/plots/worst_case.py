"""Worst-case consistency: C under the explanation attack beside C under uniform noise of the same budget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from camrobust import vocabulary
from camrobust.plots.style import cam_colors, cam_legend, cam_order, new_figure, save
from camrobust.plots.summary_rows import require_columns


def worst_case(table: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """One panel per (dataset, model): x = L-inf budget (1/255, log scale), y = consistency C,
    one colour per CAM; solid = worst case (the explanation attack; hollow markers where the
    images are another CAM's, a transfer), dashed = uniform noise of the same budget. The gap
    between the two lines is how far average-case stability overstates the worst case. Returns
    the table drawn (worst_case.csv)."""
    worst = vocabulary.WORST_CASE_CONSISTENCY.name
    require_columns(
        table, ["dataset", "model", "cam", "budget", "transfer", worst, "uniform_consistency"], "worst-case table"
    )
    pairs = sorted(set(zip(table["dataset"], table["model"])))
    if not pairs:
        raise ValueError("worst-case table is empty")
    cams = cam_order(table["cam"].unique())
    colors = cam_colors(cams)
    figure = new_figure(1.8 + 3.6 * len(pairs), 3.4)
    axes = figure.subplots(1, len(pairs), squeeze=False, sharey=True).ravel()
    for ax, (dataset, model) in zip(axes, pairs):
        rows = table[(table["dataset"] == dataset) & (table["model"] == model)]
        for cam in cams:
            part = rows[rows["cam"] == cam].sort_values("budget")
            if part.empty:
                continue
            transfer = bool(part["transfer"].astype(bool).any())
            x = part["budget"].to_numpy(float)
            ax.plot(
                x,
                part[worst].to_numpy(float),
                marker="o",
                markerfacecolor="white" if transfer else colors[cam],
                color=colors[cam],
                linewidth=1.5,
            )
            ax.plot(x, part["uniform_consistency"].to_numpy(float), color=colors[cam], linewidth=1.0, linestyle="--")
        budgets = np.sort(rows["budget"].unique())
        ax.set_xscale("log", base=2)
        ax.set_xticks(budgets, [f"{b:g}" for b in budgets])
        ax.set_xlabel("L-inf budget (/255)", fontsize=8.5)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.set_title(f"{dataset} / {model}", fontsize=9.5)
    axes[0].set_ylabel("consistency C (mean RBO)", fontsize=9)
    extra = [
        Line2D([], [], color="#424242", linewidth=1.5, marker="o", label="worst case (explanation attack)"),
        Line2D([], [], color="#424242", linewidth=1.5, marker="o", markerfacecolor="white", label="transfer attack"),
        Line2D([], [], color="#424242", linewidth=1.0, linestyle="--", label="uniform noise, same budget"),
    ]
    cam_legend(figure, cams, colors, extra)
    figure.suptitle(
        "Worst case vs average case: consistency C under the explanation attack and uniform noise", fontsize=10
    )
    save(figure, path)
    return table
