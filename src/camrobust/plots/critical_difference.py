"""The critical-difference diagram: CAM methods at their average rank, joined where they do not differ."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from camrobust import vocabulary
from camrobust.plots.style import cam_colors, cam_label, message_figure, new_figure, noise_label, save


def critical_difference_title(dataset: str, model: str, noise: str, set_name: str) -> str:
    """The diagram's title: dataset / model, the noise, and what the set's value measures."""
    score, pairs = vocabulary.SET_SCORES[set_name].label, vocabulary.SETS[set_name]
    return f"{dataset} / {model}: {noise_label(noise)}, {score} ({pairs})"


def critical_difference(
    ranks: pd.Series | Mapping[str, float],
    pvalues: pd.DataFrame,
    path: str | Path,
    title: str,
    *,
    alpha: float = 0.05,
    rank_label: str = "average rank (1 = best)",
) -> str | None:
    """Critical-difference diagram of CAM methods (scikit-posthocs), CAM colours as elsewhere.

    ``ranks``: average rank per CAM; ``pvalues``: Nemenyi p-value matrix (cam x cam). Methods
    joined by a black bar do not differ at ``alpha``. With fewer than 2 methods or NaN ranks /
    p-values the PNG is a text figure saying why, and that reason is returned (else None).
    """
    ranks, matrix, problem = _inputs(ranks, pvalues)
    save(_draw(ranks, matrix, problem, title, alpha, rank_label), path)
    return problem


def critical_difference_figure(
    ranks: pd.Series | Mapping[str, float],
    pvalues: pd.DataFrame,
    title: str,
    *,
    alpha: float = 0.05,
    rank_label: str = "average rank (1 = best)",
) -> Figure:
    """The figure of :func:`critical_difference`, unsaved."""
    return _draw(*_inputs(ranks, pvalues), title, alpha, rank_label)


def _inputs(
    ranks: pd.Series | Mapping[str, float], pvalues: pd.DataFrame
) -> tuple[pd.Series, pd.DataFrame, str | None]:
    """Ranks, the checked symmetric p-value matrix in their order, and why no diagram (or None)."""
    ranks = pd.Series(ranks, dtype=float)
    missing = [c for c in ranks.index if c not in pvalues.index or c not in pvalues.columns]
    if missing:
        raise ValueError(f"pvalues has no row/column for {missing}; it has rows {list(pvalues.index)}")
    matrix = pvalues.loc[ranks.index, ranks.index].astype(float)
    values = matrix.to_numpy(copy=True)
    np.fill_diagonal(values, 1.0)
    if not np.allclose(values, values.T, equal_nan=True):
        raise ValueError(f"pvalues must be symmetric (cam x cam); got\n{matrix}")
    matrix = pd.DataFrame(values, index=ranks.index, columns=ranks.index)
    return ranks, matrix, _problem(ranks, matrix)


def _draw(
    ranks: pd.Series, matrix: pd.DataFrame, problem: str | None, title: str, alpha: float, rank_label: str
) -> Figure:
    if problem is not None:
        return message_figure(title, f"No critical-difference diagram.\n{problem}")
    import scikit_posthocs  # imported here: it loads seaborn and pyplot, which no other figure needs

    colors = cam_colors(ranks.index)
    labels = {cam: cam_label(cam) for cam in ranks.index}
    if len(set(labels.values())) == len(labels):  # show labels unless two methods share one
        ranks, matrix = ranks.rename(labels), matrix.rename(index=labels, columns=labels)
        colors = {labels[cam]: color for cam, color in colors.items()}
    n_methods = len(ranks)
    figure = new_figure(7.5, 1.4 + 0.3 * (math.ceil(n_methods / 2) + n_methods), constrained=False)
    ax = figure.add_axes((0.22, 0.08, 0.56, 0.72))
    scikit_posthocs.critical_difference_diagram(
        ranks,
        matrix,
        ax=ax,
        alpha=alpha,
        color_palette=colors,
        label_fmt_left="{label} ({rank:.2f})",
        label_fmt_right="({rank:.2f}) {label}",
        label_props={"fontsize": 9},
        marker_props={"s": 30},
        elbow_props={"linewidth": 1.4},
        text_h_margin=0.15,
    )
    ax.set_xlim(1 - 0.05 * n_methods, n_methods + 0.05 * n_methods)
    ax.set_xticks(range(1, n_methods + 1))
    ax.tick_params(axis="x", labelsize=9)
    ax.xaxis.set_label_position("top")
    ax.set_xlabel(rank_label, fontsize=9)
    ax.set_title(title, fontsize=11, pad=10)
    figure.text(
        0.5,
        0.0,
        f"black bars join methods that are not significantly different (Nemenyi, α = {alpha:g})",
        ha="center",
        va="top",
        fontsize=8,
        color="#424242",
    )
    return figure


def _problem(ranks: pd.Series, pvalues: pd.DataFrame) -> str | None:
    """Why a critical-difference diagram cannot be drawn, or None when it can."""
    if len(ranks) < 2:
        return f"Only {len(ranks)} CAM method(s) to compare; the diagram needs at least 2."
    if ranks.isna().all():
        return (
            "No average ranks: fewer than 2 images have a score for every CAM method in this set\n"
            "(e.g. no image changed class under this noise)."
        )
    if ranks.isna().any():
        return f"Average rank is NaN for {list(ranks.index[ranks.isna()])}."
    off_diagonal = pvalues.to_numpy(float)[~np.eye(len(ranks), dtype=bool)]
    if np.isnan(off_diagonal).any():
        nan_pairs = [
            f"{a}–{b}" for i, a in enumerate(ranks.index) for b in ranks.index[i + 1 :] if np.isnan(pvalues.loc[a, b])
        ]
        shown = ", ".join(nan_pairs[:3]) + (f" and {len(nan_pairs) - 3} more" if len(nan_pairs) > 3 else "")
        return f"Nemenyi p-values are NaN for {shown}\n(too few paired images, or the test did not run)."
    return None
