"""Ranking agreement: the CAM ranking by RM beside the rankings by the other similarity scores."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from camrobust import vocabulary
from camrobust.plots.style import cam_colors, cam_label, cam_legend, cam_order, new_figure, save
from camrobust.plots.summary_rows import SUMMARY_KEYS, is_pooled, require_columns, select

SUMMARY_COLUMNS = {vocabulary.SENSITIVITY.name: "sensitivity_mean"}
"""Summary columns named unlike their score: the summary gives the sensitivity's mean over
pairs (Avg-Sensitivity) beside the mean of each image's largest one."""


@dataclass(frozen=True)
class Measure:
    """A similarity score as a ranking criterion: its summary column, and the sign that turns it
    into "higher = more stable" (a distance is negated)."""

    score: vocabulary.Score
    column: str

    @property
    def sign(self) -> float:
        return 1.0 if self.score.higher_is_better else -1.0

    @property
    def label(self) -> str:
        return self.score.label if self.score.higher_is_better else f"−{self.score.label}"


def measures(topk: float = vocabulary.DEFAULT_TOPK) -> tuple[Measure, ...]:
    """The similarities RM is compared with: every per-pair similarity but RBO (RM is built on it)."""
    return tuple(
        Measure(score, SUMMARY_COLUMNS.get(score.name, score.name))
        for score in vocabulary.similarities(topk)
        if score != vocabulary.RBO
    )


def ranking_agreement(
    summary: pd.DataFrame, path: str | Path, *, topk: float = vocabulary.DEFAULT_TOPK
) -> pd.DataFrame:
    """CAM ranking by RM beside the rankings by the complementary similarities.

    Per (dataset, model), CAMs are ranked (1 = most robust) by the mean over noises of the
    pooled RM and of the pooled mean of every similarity of :func:`measures` (a distance
    negated; the IoU of the top ``topk`` pixels; columns absent from ``summary`` are skipped).
    Kendall's tau-b compares each ranking with the RM ranking (1 = same order, -1 = reversed).
    Drawn as a bump chart per (dataset, model); returns one row per (dataset, model, cam):
    value, rank_* and tau_* columns named after the summary columns.
    """
    rm = vocabulary.RM.name
    require_columns(summary, [*SUMMARY_KEYS, rm], "robustness summary")
    present = [m for m in measures(topk) if m.column in summary.columns]
    pairs = sorted(set(zip(summary["dataset"], summary["model"])))
    tables = []
    for dataset, model in pairs:
        means = _cam_means(select(summary, dataset, model), [rm, *[m.column for m in present]])
        tables.append(_ranking_rows(means, present).reset_index().assign(dataset=dataset, model=model))
    if not tables:
        raise ValueError("robustness summary is empty")
    table = pd.concat(tables, ignore_index=True)
    table = table[["dataset", "model", "cam", *[c for c in table.columns if c not in ("dataset", "model", "cam")]]]
    _draw(table, pairs, present, path)
    return table


def _cam_means(rows: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Per-CAM mean over noises of the pooled rows (NaN-skipping: NaN RM cells are the same
    noises for every CAM because prediction changes do not depend on the CAM)."""
    pooled = rows[is_pooled(rows["severity"])]
    return pooled.groupby("cam")[list(columns)].mean()


def _ranking_rows(means: pd.DataFrame, present: Sequence[Measure]) -> pd.DataFrame:
    """Ranks (1 = most robust, ties averaged) per measure and Kendall tau against the RM rank."""
    from scipy.stats import kendalltau

    rm = vocabulary.RM.name
    table = pd.DataFrame(index=means.index)
    table[rm] = means[rm]
    table[f"rank_{rm}"] = means[rm].rank(ascending=False, method="average")
    for measure in present:
        table[measure.column] = means[measure.column]
        table[f"rank_{measure.column}"] = (measure.sign * means[measure.column]).rank(ascending=False, method="average")
    for measure in present:
        both = table[[f"rank_{rm}", f"rank_{measure.column}"]].dropna()
        tau = kendalltau(both[f"rank_{rm}"], both[f"rank_{measure.column}"]).statistic if len(both) >= 2 else np.nan
        table[f"tau_{measure.column}"] = tau
    return table.sort_values([f"rank_{rm}", rm], na_position="last")


def _tau_text(tau: float) -> str:
    return f"τ={tau:+.2f}".replace("-", "−") if np.isfinite(tau) else "τ=n/a"


def _draw(
    table: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    present: Sequence[Measure],
    path: str | Path,
) -> None:
    """Bump chart: x = measure, y = rank (1 on top), one line per CAM, tau above each measure."""
    rm = vocabulary.RM
    labels = [rm.label, *[m.label for m in present]]
    columns = [f"rank_{rm.name}", *[f"rank_{m.column}" for m in present]]
    cams = cam_order(table["cam"])
    colors = cam_colors(cams)
    n_cams = table.groupby(["dataset", "model"]).size().max()
    n_cols = min(len(pairs), 3)
    n_rows = math.ceil(len(pairs) / n_cols)
    figure = new_figure(1.0 + n_cols * (0.85 * len(labels) + 0.8) + 1.6, n_rows * (1.9 + 0.38 * n_cams))
    axes = np.atleast_1d(figure.subplots(n_rows, n_cols, squeeze=False).ravel())
    x = np.arange(len(labels))
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
        taus = ["", *[_tau_text(rows[f"tau_{m.column}"].iloc[0]) for m in present]]
        for xi, tau in zip(x, taus):
            ax.annotate(
                tau,
                (xi, 1.0),
                xytext=(0, 4),
                xycoords=("data", "axes fraction"),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7.5,
            )
        ax.set_xticks(x, labels, rotation=30, ha="right", rotation_mode="anchor", fontsize=8.5)
        ax.set_ylim(len(rows) + 0.5, 0.5)
        by_rank = rows.groupby(f"rank_{rm.name}", sort=True)["cam"].agg(list)
        ax.set_yticks(
            by_rank.index,
            [f"{', '.join(cam_label(c) for c in group)}  {rank:g}" for rank, group in by_rank.items()],
            fontsize=8,
        )
        for tick, group in zip(ax.get_yticklabels(), by_rank):
            tick.set_color(colors[group[0]] if len(group) == 1 else "black")
        if ax is axes[0]:
            ax.set_ylabel("rank\n(1 = most robust)", fontsize=8.5)
        ax.set_xlim(-0.3, len(labels) - 0.7)
        ax.grid(axis="y", alpha=0.3)
        ax.axvline(0, color="#bdbdbd", linewidth=6, alpha=0.4, zorder=0)
        ax.set_title(f"{dataset} / {model}", fontsize=10, pad=16)
    for ax in axes[len(pairs) :]:
        ax.set_visible(False)
    cam_legend(figure, cams, colors)
    figure.suptitle(
        "CAM ranking by RM vs by other similarity measures\n"
        "(left labels: methods in RM order; τ = Kendall tau with the RM ranking)",
        fontsize=10.5,
    )
    save(figure, path)
