"""Pair overlays for the drill-down pages: one (clean, noisy) pair per row, its top regions
outlined and its RBO printed, so that a picture is tied to its number."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from camrobust.plots.overlay_cells import CellGrid, boundary_layer, overlay_cell, spill, top_region_layer
from camrobust.plots.style import CHANGED_RED

TOP_REGIONS = 3
"""Regions outlined per CAM: the top of the ranking RBO weighs most."""
CELL = 1.8
"""Side of a cell in inches."""


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
    changed = [noisy != clean for clean, noisy in zip(clean_classes, noisy_classes)]
    titles = [
        [
            f"clean: {clean_classes[row]}",
            f"noisy: {'≠ ' if changed[row] else ''}{noisy_classes[row]}, r = {rbo[row]:.3f}",
        ]
        for row in range(n_pairs)
    ]
    side = spill([title for pair in titles for title in pair], CELL, fontsize=8)
    grid = CellGrid(
        rows=n_pairs,
        columns=2,
        cell=CELL,
        left=max(0.3, side + 0.1),
        right=side + 0.1,
        top=0.1,
        bottom=0.1,
        gap=max(0.4, 2 * side + 0.1),
        title=0.28,
    )
    figure, ax = grid.figure()
    for row in range(n_pairs):
        regions = np.asarray(segments[row])
        boundaries = boundary_layer(regions)
        pictures = ((clean_images[row], clean_maps[row]), (noisy_images[row], noisy_maps[row]))
        for column, (image, cam) in enumerate(pictures):
            outline = top_region_layer(np.asarray(cam), regions, top)
            overlay_cell(ax, image, cam, boundaries, outline=outline, extent=grid.box(row, column))
        grid.cell_title(ax, row, 0, titles[row][0], fontsize=8)
        grid.cell_title(ax, row, 1, titles[row][1], fontsize=8, color=CHANGED_RED if changed[row] else "black")
        grid.row_label(ax, row, headers[row], fontsize=7.5)
    grid.frame(ax)
    return figure
