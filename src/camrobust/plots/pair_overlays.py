"""Pair overlays for the drill-down pages: one (clean, noisy) pair per row, its top regions
outlined and its RBO printed, so that a picture is tied to its number."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from camrobust.plots.overlay_cells import boundary_layer, overlay_cell, top_region_layer
from camrobust.plots.style import CHANGED_RED, new_figure

TOP_REGIONS = 3
"""Regions outlined per CAM: the top of the ranking RBO weighs most."""


def pair_overlays_figure(
    clean_images: np.ndarray,
    noisy_images: np.ndarray,
    clean_maps: np.ndarray,
    noisy_maps: np.ndarray,
    segments: np.ndarray,
    *,
    rbo: Sequence[float],
    headers: Sequence[str],
    clean_classes: Sequence[str],
    noisy_classes: Sequence[str],
    top: int = TOP_REGIONS,
) -> Figure:
    """P pairs as P rows of (clean overlay, noisy overlay): uint8 images (P,H,W,3), CAMs in [0, 1]
    (P,H,W) and the clean image's segments (P,H,W), drawn with thin white region boundaries and
    the ``top`` regions of each CAM's own ranking outlined in cyan. Each row is labelled with its
    ``headers`` entry; the noisy panel's title gives its predicted class (red where it changed)
    and r."""
    n_pairs = len(rbo)
    if n_pairs == 0:
        raise ValueError("no pairs to draw")
    figure = new_figure(4.4, 0.5 + 2.0 * n_pairs)
    axes = figure.subplots(n_pairs, 2, squeeze=False)
    for row in range(n_pairs):
        boundaries = boundary_layer(np.asarray(segments[row]))
        clean_ax, noisy_ax = axes[row]
        overlay_cell(clean_ax, clean_images[row], clean_maps[row], boundaries)
        overlay_cell(noisy_ax, noisy_images[row], noisy_maps[row], boundaries)
        for ax, cam in ((clean_ax, clean_maps[row]), (noisy_ax, noisy_maps[row])):
            height, width = cam.shape
            extent = (-0.5, width - 0.5, height - 0.5, -0.5)
            ax.imshow(top_region_layer(cam, np.asarray(segments[row]), top), interpolation="nearest", extent=extent)
        changed = noisy_classes[row] != clean_classes[row]
        clean_ax.set_title(f"clean: {clean_classes[row]}", fontsize=8)
        noisy_ax.set_title(
            f"noisy: {'≠ ' if changed else ''}{noisy_classes[row]}, r = {rbo[row]:.3f}",
            fontsize=8,
            color=CHANGED_RED if changed else "black",
        )
        clean_ax.set_ylabel(headers[row], fontsize=7.5)
    return figure
