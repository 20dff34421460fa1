"""Sensitivity of the conclusions: does the CAM ranking change with the metric's own settings?"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from camrobust.analysis.sensitivity import ALL_NOISES
from camrobust.plots.style import new_figure, noise_label, noise_order, palette, save
from camrobust.plots.summary_rows import require_columns


def sensitivity(table: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Kendall's tau of each setting's CAM ranking with the main setting's, one panel per (dataset,
    model): x = setting, one marker per noise with its bootstrap CI (bars), over all noises in
    black; a setting that leaves the ranking unchanged sits at tau = 1. Returns the table drawn
    (:func:`camrobust.analysis.sensitivity.sensitivity_rows`)."""
    require_columns(table, ["dataset", "model", "noise", "setting", "tau", "tau_lo", "tau_hi"], "sensitivity table")
    pairs = sorted(set(zip(table["dataset"], table["model"])))
    if not pairs:
        raise ValueError("sensitivity table is empty")
    settings = list(dict.fromkeys(table["setting"]))
    noises = [*noise_order(table.loc[table["noise"] != ALL_NOISES, "noise"]), ALL_NOISES]
    colors = palette("Dark2")
    n_cols = min(len(pairs), 3)
    n_rows = math.ceil(len(pairs) / n_cols)
    figure = new_figure(1.2 + n_cols * (1.1 * len(settings) + 1.2) + 1.8, 0.8 + 2.8 * n_rows)
    axes = figure.subplots(n_rows, n_cols, squeeze=False, sharey=True).ravel()
    width = 0.6 / len(noises)
    for ax, (dataset, model) in zip(axes, pairs):
        rows = table[(table["dataset"] == dataset) & (table["model"] == model)]
        for index, noise in enumerate(noises):
            part = rows[rows["noise"] == noise].set_index("setting").reindex(settings)
            x = np.arange(len(settings)) + (index - (len(noises) - 1) / 2) * width
            tau = part["tau"].to_numpy(float)
            error = np.abs(np.vstack([tau - part["tau_lo"].to_numpy(float), part["tau_hi"].to_numpy(float) - tau]))
            pooled = noise == ALL_NOISES
            ax.errorbar(
                x,
                tau,
                yerr=np.nan_to_num(error),
                fmt="D" if pooled else "o",
                color="black" if pooled else colors[index % len(colors)],
                markersize=6 if pooled else 4.5,
                capsize=2,
                linewidth=1.2,
                label="over all noises" if pooled else noise_label(noise),
            )
        ax.axhline(1.0, color="#9e9e9e", linewidth=0.8, linestyle="--")
        ax.axhline(0.0, color="#bdbdbd", linewidth=0.8)
        ax.set_xticks(np.arange(len(settings)), settings, rotation=20, ha="right", fontsize=8.5)
        ax.set_ylim(-1.08, 1.08)
        ax.set_title(f"{dataset} / {model}", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("Kendall τ with the main\nsetting's CAM ranking", fontsize=9)
    for ax in axes[len(pairs) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(
        handles, labels, loc="outside right center", fontsize=8, frameon=False, title="noise", title_fontsize=9
    )
    figure.suptitle(
        "Does the CAM ranking by RM change with the metric's own settings? (bars: bootstrap CI over images)",
        fontsize=10.5,
    )
    save(figure, path)
    return table
