"""The critical-difference diagram: CAM methods at their average rank over images, joined where
they do not differ (Demšar 2006).

The axis runs from rank 1 (best) on the left to k. Above it, a bar of the critical difference CD
(Nemenyi at alpha) with its value; below it, every method on an elbow to its label with its
average rank. Thick black bars join the groups of methods that do not differ
(:func:`camrobust.analysis.nonparametric.nemenyi_groups`); methods with equal ranks always share
a bar, drawn at least a little wide, so a tie never reads as a difference. N (images) and k are
written under the title.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from camrobust import vocabulary
from camrobust.plots.style import cam_colors, cam_label, message_figure, new_figure, noise_label, save

if TYPE_CHECKING:
    from camrobust.analysis.nonparametric import Friedman

MIN_BAR = 0.06
"""Half-width (in ranks) of a group bar whose members share one rank, so it stays visible."""


def critical_difference_title(dataset: str, model: str, noise: str, set_name: str) -> str:
    """The diagram's title: dataset / model, the noise, the value ranked and its set."""
    value, pairs = vocabulary.SET_VALUES[set_name], vocabulary.SETS[set_name]
    score = vocabulary.SET_SCORES[set_name].label
    return f"{dataset} / {model}: {noise_label(noise)}, ranks of {value} on {pairs} ({score})"


def critical_difference(ranking: Friedman, path: str | Path, title: str) -> str | None:
    """The diagram of a Friedman ranking (:func:`camrobust.analysis.stats.cam_ranking`) at
    ``path``. Where it cannot be drawn (fewer than 2 methods or 2 images, the test did not run)
    the PNG is a text figure saying why, and that reason is returned (else None)."""
    problem = _problem(ranking)
    save(_draw(ranking, problem, title), path)
    return problem


def critical_difference_figure(ranking: Friedman, title: str) -> Figure:
    """The figure of :func:`critical_difference`, unsaved."""
    return _draw(ranking, _problem(ranking), title)


def _problem(ranking: Friedman) -> str | None:
    """Why a diagram cannot be drawn, or None when it can."""
    if ranking.k < 2:
        return f"Only {ranking.k} CAM method(s) to compare; the diagram needs at least 2."
    if ranking.note and ranking.ranks.isna().any():
        return f"No average ranks: {ranking.note}\n(e.g. no image changed class under this noise)."
    if ranking.ranks.isna().any() or not np.isfinite(ranking.critical_difference):
        return "No average ranks: the Friedman test could not run."
    return None


def _draw(ranking: Friedman, problem: str | None, title: str) -> Figure:
    if problem is not None:
        return message_figure(title, f"No critical-difference diagram.\n{problem}")
    ranks = ranking.ranks.sort_values(kind="stable")
    from camrobust.analysis.nonparametric import nemenyi_groups  # scipy.stats: only where a diagram is drawn

    groups = nemenyi_groups(ranking.ranks, ranking.nemenyi, ranking.alpha)
    k = len(ranks)
    half = (k + 1) // 2
    rows = max(half, k - half)
    base = 0.6 + 0.2 * len(groups)  # the elbows start below the group bars
    figure = new_figure(8.0, 1.5 + 0.32 * (rows + base), constrained=False)
    ax = figure.add_axes((0.02, 0.02, 0.96, 0.78))
    ax.set_axis_off()
    ax.set_xlim(0.5 - 0.45 * k, k + 0.5 + 0.45 * k)
    ax.set_ylim(-(rows + base), 2.0)
    _rank_axis(ax, k)
    _cd_bar(ax, ranking.critical_difference, ranking.alpha)
    _group_bars(ax, groups, ranking.ranks)
    colors = cam_colors(ranks.index)
    for position, (cam, rank) in enumerate(ranks.items()):
        left = position < half
        depth = -(base + (position if left else k - 1 - position))
        end = 0.5 - 0.35 * k if left else k + 0.5 + 0.35 * k
        ax.plot([rank, rank, end], [0, depth, depth], color=colors[str(cam)], linewidth=1.4, solid_joinstyle="miter")
        ax.plot([rank], [0], marker="o", markersize=4.5, color=colors[str(cam)])
        text = f"{cam_label(str(cam))} ({rank:.2f})" if left else f"({rank:.2f}) {cam_label(str(cam))}"
        ax.text(end, depth, text, ha="right" if left else "left", va="center", fontsize=9, color=colors[str(cam)])
    figure.suptitle(title, fontsize=10.5, y=0.99)
    figure.text(
        0.5,
        0.90,
        f"N = {ranking.n} images, k = {k} methods; average rank over images (1 = best). Bars join methods "
        f"that do not differ (Nemenyi, α = {ranking.alpha:g}).",
        ha="center",
        fontsize=8,
        color="#424242",
    )
    return figure


def _rank_axis(ax: Axes, k: int) -> None:
    ax.plot([1, k], [0, 0], color="black", linewidth=1.0)
    for tick in range(1, k + 1):
        ax.plot([tick, tick], [0, 0.18], color="black", linewidth=1.0)
        ax.text(tick, 0.28, str(tick), ha="center", va="bottom", fontsize=8.5)


def _cd_bar(ax: Axes, cd: float, alpha: float) -> None:
    ax.plot([1, 1 + cd], [1.25, 1.25], color="black", linewidth=1.6)
    for x in (1, 1 + cd):
        ax.plot([x, x], [1.1, 1.4], color="black", linewidth=1.2)
    ax.text(1 + cd + 0.08, 1.25, f"CD = {cd:.2f} (Nemenyi, α = {alpha:g})", ha="left", va="center", fontsize=8.5)


def _group_bars(ax: Axes, groups: list[list[str]], ranks: pd.Series) -> None:
    for index, members in enumerate(groups):
        values = [float(ranks[member]) for member in members]
        low, high = min(values), max(values)
        if high - low < 2 * MIN_BAR:
            low, high = (low + high) / 2 - MIN_BAR, (low + high) / 2 + MIN_BAR
        y = -0.28 - 0.2 * index
        ax.plot([low - 0.03, high + 0.03], [y, y], color="black", linewidth=3.2, solid_capstyle="round")
