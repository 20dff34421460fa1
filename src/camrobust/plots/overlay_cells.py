"""Cells of the overlay figures: an image with its CAM on top, region boundaries, top regions."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.axes import Axes
from skimage.segmentation import find_boundaries

from camrobust.plots.style import CAM_CMAP

TOP_REGION_COLOUR = (0.0, 1.0, 1.0, 1.0)
"""Cyan outline of a CAM's top regions, visible on inferno."""


def boundary_layer(segments: np.ndarray, min_pixels: int = 256) -> np.ndarray:
    """RGBA layer of region boundaries, drawn on a nearest-upsampled label map so lines stay
    thin on small (e.g. 64 px) images."""
    factor = max(1, min(8, math.ceil(min_pixels / max(segments.shape))))
    upsampled = np.kron(segments, np.ones((factor, factor), dtype=segments.dtype))
    layer = np.zeros((*upsampled.shape, 4))
    layer[find_boundaries(upsampled, mode="inner")] = (1.0, 1.0, 1.0, 0.6)
    return layer


def overlay_cell(ax: Axes, image: np.ndarray, cam: np.ndarray, boundaries: np.ndarray | None) -> None:
    """Image, CAM at alpha 0.5 (inferno, 0-1) and optional white region boundaries."""
    height, width = image.shape[:2]
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)
    ax.imshow(image, interpolation="nearest", extent=extent)
    ax.imshow(cam, cmap=CAM_CMAP, vmin=0.0, vmax=1.0, alpha=0.5, interpolation="bilinear", extent=extent)
    if boundaries is not None:
        ax.imshow(boundaries, interpolation="nearest", extent=extent)
    ax.set_xticks([])
    ax.set_yticks([])


def region_importance(cam: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Mean CAM value per region label 0..max(segments) (NaN for an absent label)."""
    labels = segments.ravel()
    counts = np.bincount(labels, minlength=int(labels.max()) + 1).astype(np.float64)
    sums = np.bincount(labels, weights=cam.ravel().astype(np.float64), minlength=len(counts))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def top_region_layer(cam: np.ndarray, segments: np.ndarray, top: int, min_pixels: int = 256) -> np.ndarray:
    """RGBA layer outlining the ``top`` regions of highest mean CAM value (ties: lower label first),
    upsampled like :func:`boundary_layer`."""
    importance = region_importance(cam, segments)
    order = np.argsort(-np.nan_to_num(importance, nan=-np.inf), kind="stable")[:top]
    mask = np.isin(segments, order)
    factor = max(1, min(8, math.ceil(min_pixels / max(segments.shape))))
    upsampled = np.kron(mask.astype(np.int32), np.ones((factor, factor), dtype=np.int32))
    layer = np.zeros((*upsampled.shape, 4))
    layer[find_boundaries(upsampled, mode="inner")] = TOP_REGION_COLOUR
    return layer
