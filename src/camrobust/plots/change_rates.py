"""Change rates: share of images whose predicted class the noise changed, per noise and severity."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from camrobust import registry
from camrobust.plots.style import new_figure, noise_label, noise_order, palette, save
from camrobust.plots.summary_rows import SUMMARY_KEYS, change_share, per_severity, require_columns


def change_rates(summary: pd.DataFrame, path: str | Path, *, max_columns: int = 4) -> pd.DataFrame:
    """Share of images whose predicted class changes, vs severity, one panel per noise.

    Share = n_changed / (n_same + n_changed) (the attack success rate for the adversarial
    attacks, the class-change rate for the other noises), one line per (dataset, model). Returns the drawn
    table: dataset, model, noise, severity, n_same, n_changed, n_total, share_changed.
    """
    shares = _change_shares(summary)
    save(_draw(shares, max_columns), path)
    return shares


def change_rates_figure(summary: pd.DataFrame, *, max_columns: int = 4) -> Figure:
    """The figure of :func:`change_rates`, unsaved."""
    return _draw(_change_shares(summary), max_columns)


def _change_shares(summary: pd.DataFrame) -> pd.DataFrame:
    require_columns(summary, [*SUMMARY_KEYS, "n_same", "n_changed"], "robustness summary")
    rows = per_severity(summary)
    if rows.empty:
        raise ValueError("robustness summary has no per-severity rows (only pooled ones)")
    return change_share(rows, ["dataset", "model", "noise", "severity"])


def _draw(shares: pd.DataFrame, max_columns: int) -> Figure:
    noises = noise_order(shares["noise"])
    pairs = sorted(set(zip(shares["dataset"], shares["model"])))
    line_colors = palette("tab10")
    markers = "os^Dvp*hX"
    n_cols = min(len(noises), max_columns)
    n_rows = math.ceil(len(noises) / n_cols)
    figure = new_figure(1.0 + 2.4 * n_cols + 2.0, 0.6 + 2.1 * n_rows)
    axes = figure.subplots(n_rows, n_cols, squeeze=False, sharey=True).ravel()
    for ax, noise in zip(axes, noises):
        for i, (dataset, model) in enumerate(pairs):
            line = shares[(shares["noise"] == noise) & (shares["dataset"] == dataset) & (shares["model"] == model)]
            ax.plot(
                line["severity"],
                100 * line["share_changed"],
                color=line_colors[i % len(line_colors)],
                marker=markers[i % len(markers)],
                markersize=4,
                linewidth=1.6,
                label=f"{dataset} / {model}",
            )
        ax.set_title(noise_label(noise), fontsize=10)
        ax.set_ylim(-3, 103)
        ax.set_xticks(sorted(shares.loc[shares["noise"] == noise, "severity"].unique()))
        ax.set_xlabel("severity level", fontsize=8.5)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[::n_cols]:
        ax.set_ylabel("class changed (%)", fontsize=9)
    for ax in axes[len(noises) :]:
        ax.set_visible(False)
    handles = [
        Line2D(
            [],
            [],
            color=line_colors[i % len(line_colors)],
            marker=markers[i % len(markers)],
            linewidth=1.6,
            label=f"{d} / {m}",
        )
        for i, (d, m) in enumerate(pairs)
    ]
    figure.legend(
        handles=handles,
        loc="outside right center",
        title="dataset / model",
        fontsize=8,
        title_fontsize=9,
        frameon=False,
    )
    attacks = " / ".join(noise_label(name) for name in registry.ATTACKS)
    figure.suptitle(f"Class-change rate under noise (attack success rate for {attacks})", fontsize=11)
    return figure
