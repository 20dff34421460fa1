"""Region counts: histogram of segmentation regions per clean image, one panel per dataset."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from camrobust.plots.style import new_figure, palette, save

REGION_BAND = (20, 60)
"""Regions per image that make RBO's region rankings informative (enough regions, not noise)."""


def region_counts(
    n_regions: Mapping[str, np.ndarray], path: str | Path, *, band: tuple[int, int] = REGION_BAND
) -> pd.DataFrame:
    """Histogram of segmentation regions per image, one panel per dataset, target band shaded.

    Returns per dataset: n_images, min, median, max and share_in_band (fraction of images with
    band[0] <= m <= band[1]).
    """
    if not n_regions:
        raise ValueError("n_regions is empty; pass {dataset: array of region counts}")
    counts = {name: np.asarray(values, dtype=int).ravel() for name, values in n_regions.items()}
    empty = [name for name, values in counts.items() if values.size == 0]
    if empty:
        raise ValueError(f"no region counts for datasets {empty}")
    stats = pd.DataFrame(
        [
            {
                "dataset": name,
                "n_images": values.size,
                "min": int(values.min()),
                "median": float(np.median(values)),
                "max": int(values.max()),
                "share_in_band": float(np.mean((values >= band[0]) & (values <= band[1]))),
            }
            for name, values in counts.items()
        ]
    )
    upper = max(int(v.max()) for v in counts.values())
    step = max(1, math.ceil((upper + 1) / 60))
    bins = np.arange(0, upper + step + 1, step) - 0.5
    dataset_colors = palette("Dark2")
    figure = new_figure(7.0, 0.6 + 1.6 * len(counts))
    axes = np.atleast_1d(figure.subplots(len(counts), 1, sharex=True, squeeze=False).ravel())
    for i, (ax, (name, values)) in enumerate(zip(axes, counts.items())):
        ax.axvspan(
            band[0] - 0.5,
            band[1] + 0.5,
            color="#c8e6c9",
            alpha=0.7,
            zorder=0,
            label=f"target {band[0]}–{band[1]}",
        )
        ax.hist(values, bins=bins, color=dataset_colors[i % len(dataset_colors)], edgecolor="white", linewidth=0.5)
        row = stats.iloc[i]
        ax.set_title(
            f"{name}: n = {row['n_images']} images, median m = {row['median']:g} "
            f"(range {row['min']}–{row['max']}), {100 * row['share_in_band']:.0f}% in target band",
            fontsize=9,
            loc="left",
        )
        ax.set_ylabel("images", fontsize=9)
        ax.tick_params(labelsize=8)
    axes[-1].set_xlabel("segmentation regions per image (m)", fontsize=9)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    figure.suptitle("Number of segmentation regions per clean image", fontsize=11)
    save(figure, path)
    return stats
