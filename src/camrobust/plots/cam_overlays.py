"""CAM overlays: a grid of clean and noisy images with their CAMs, one row per image and method."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from camrobust.plots.overlay_cells import CellGrid, boundary_layer, overlay_cell, spill
from camrobust.plots.style import CAM_CMAP, CHANGED_RED, cam_colors, cam_label, save

CELL = 1.16
"""Side of a cell in inches."""


def cam_overlays(
    clean_images: np.ndarray,
    noisy_images: np.ndarray,
    clean_cams: Mapping[str, np.ndarray],
    noisy_cams: Mapping[str, np.ndarray],
    severities: Sequence[int],
    clean_pred: np.ndarray,
    noisy_pred: np.ndarray,
    class_names: Sequence[str],
    path: str | Path,
    title: str,
    segments: np.ndarray | None = None,
    image_ids: Sequence[str] | None = None,
    rbo: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Grid of CAM overlays: rows = images x CAMs, columns = clean + each severity.

    Inputs: clean_images uint8 (K,H,W,3), noisy_images uint8 (K,S,H,W,3), CAMs in [0,1]
    (K,H,W) / (K,S,H,W) per method, predicted classes (K,) / (K,S), optional clean-image
    segments (K,H,W) drawn as white region boundaries and the pairs' RBO r (K,S) per method.
    Each noisy cell's title is the predicted class, red and marked '≠' where it differs from the
    clean prediction, and r.
    """
    clean_images, noisy_images = np.asarray(clean_images), np.asarray(noisy_images)
    clean_pred, noisy_pred = np.asarray(clean_pred), np.asarray(noisy_pred)
    if not clean_cams:
        raise ValueError("clean_cams is empty; pass at least one CAM method")
    _check_overlay_shapes(
        clean_images, noisy_images, clean_cams, noisy_cams, severities, clean_pred, noisy_pred, segments
    )
    cams = list(clean_cams)
    n_images = clean_images.shape[0]
    ids = list(image_ids) if image_ids is not None else [str(k) for k in range(n_images)]
    boundaries = (
        [boundary_layer(np.asarray(segments[k])) for k in range(n_images)]
        if segments is not None
        else [None] * n_images
    )
    colors = cam_colors(cams)
    titles = [f"clean: {name}" for name in class_names] + [f"≠ {name}" for name in class_names]
    side = spill(titles, CELL, fontsize=8, fontweight="bold")
    grid = CellGrid(
        rows=n_images * len(cams),
        columns=1 + len(severities),
        cell=CELL,
        left=max(0.45, side + 0.1),
        right=1.0 + side,
        top=0.7,
        bottom=0.1,
        gap=max(0.6, 2 * side + 0.1),
        title=0.4,
    )
    figure, ax = grid.figure()
    for k in range(n_images):
        clean_name = class_names[int(clean_pred[k])]
        for c, cam in enumerate(cams):
            row = k * len(cams) + c
            overlay_cell(ax, clean_images[k], np.asarray(clean_cams[cam])[k], boundaries[k], extent=grid.box(row, 0))
            grid.cell_title(ax, row, 0, f"clean: {clean_name}", fontsize=8)
            grid.row_label(
                ax, row, f"image {ids[k]}\n{cam_label(cam)}", fontsize=8.5, color=colors[cam], fontweight="bold"
            )
            for s in range(len(severities)):
                overlay_cell(
                    ax,
                    noisy_images[k, s],
                    np.asarray(noisy_cams[cam])[k, s],
                    boundaries[k],
                    extent=grid.box(row, 1 + s),
                )
                predicted = int(noisy_pred[k, s])
                changed = predicted != int(clean_pred[k])
                label = f"{'≠ ' if changed else ''}{class_names[predicted]}"
                if rbo is not None:
                    label += f"\nr = {float(np.asarray(rbo[cam])[k, s]):.2f}"
                grid.cell_title(
                    ax,
                    row,
                    1 + s,
                    label,
                    fontsize=8,
                    color=CHANGED_RED if changed else "black",
                    fontweight="bold" if changed else "normal",
                )
    grid.frame(ax)
    for column, header in enumerate(["clean", *(f"severity {severity}" for severity in severities)]):
        grid.cell_title(ax, 0, column, header, pad=(31 if rbo is not None else 22) / 72, fontsize=9, fontweight="bold")
    _colour_bar(figure, grid, gap=side + 0.15)
    legend = "cell title = predicted class (red ≠ : differs from clean)" + (
        ", r = RBO of the pair" if rbo is not None else ""
    )
    width, height = grid.size
    figure.suptitle(f"{title}\n{legend}", fontsize=10, x=0.5, y=1.0 - 0.1 / height, va="top")
    save(figure, path)


def _colour_bar(figure: Figure, grid: CellGrid, *, gap: float) -> None:
    """The CAM colour bar ``gap`` inches right of the grid, centred on it, as long as 2.5 rows
    (at most 90 % of it)."""
    width, height = grid.size
    cells = height - grid.top - grid.bottom
    length = min(0.9, 2.5 / grid.rows) * cells
    left = grid.box(0, grid.columns - 1)[1] + gap
    bottom = grid.bottom + (cells - length) / 2
    cax = figure.add_axes((left / width, bottom / height, length / 30 / width, length / height))
    colorbar = figure.colorbar(ScalarMappable(norm=Normalize(0.0, 1.0), cmap=CAM_CMAP), cax=cax)
    colorbar.set_label("CAM value (min-max normalised, 0–1)", fontsize=8.5)


def _check_overlay_shapes(
    clean_images: np.ndarray,
    noisy_images: np.ndarray,
    clean_cams: Mapping[str, np.ndarray],
    noisy_cams: Mapping[str, np.ndarray],
    severities: Sequence[int],
    clean_pred: np.ndarray,
    noisy_pred: np.ndarray,
    segments: np.ndarray | None,
) -> None:
    n_images, height, width = clean_images.shape[:3]
    expected = {
        "noisy_images": (noisy_images.shape, (n_images, len(severities), height, width, 3)),
        "clean_pred": (clean_pred.shape, (n_images,)),
        "noisy_pred": (noisy_pred.shape, (n_images, len(severities))),
    }
    if segments is not None:
        expected["segments"] = (segments.shape, (n_images, height, width))
    for cam in clean_cams:
        expected[f"clean_cams[{cam!r}]"] = (np.shape(clean_cams[cam]), (n_images, height, width))
        if cam not in noisy_cams:
            raise ValueError(f"noisy_cams has no {cam!r}; it has {sorted(noisy_cams)}")
        expected[f"noisy_cams[{cam!r}]"] = (
            np.shape(noisy_cams[cam]),
            (n_images, len(severities), height, width),
        )
    for name, (shape, wanted) in expected.items():
        if tuple(shape) != wanted:
            raise ValueError(f"{name} has shape {tuple(shape)}, expected {wanted}")
