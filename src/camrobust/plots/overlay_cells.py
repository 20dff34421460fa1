"""Cells of the overlay figures: an image with its CAM on top, region boundaries, top regions.

A cell is composited in NumPy into one RGB image (:func:`composite_cell`) and the cells of a figure
are drawn on one Axes at fixed positions (:class:`CellGrid`), so that grids of hundreds of cells
draw in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath
from skimage.segmentation import find_boundaries

from camrobust.core.bilinear import bilinear
from camrobust.plots.style import CAM_CMAP, new_figure

TOP_REGION_COLOUR = (0.0, 1.0, 1.0, 1.0)
"""Cyan outline of a CAM's top regions, visible on inferno."""
CAM_ALPHA = 0.5
"""Opacity of the CAM over its image."""
TITLE_PAD = 6 / 72
"""Inches between a cell and its title, as matplotlib's default title pad (6 points)."""
LABEL_PAD = 4 / 72
"""Inches between a cell and its row label, as matplotlib's default label pad (4 points)."""


def upsampling_factor(shape: Sequence[int], min_pixels: int = 256) -> int:
    """Integer factor (1 to 8) that brings an image of ``shape`` to at least ``min_pixels`` on its
    longer side, so that region lines stay thin on small (e.g. 64 px) images."""
    return max(1, min(8, math.ceil(min_pixels / max(shape[:2]))))


def _outline(mask: np.ndarray, colour: tuple[float, float, float, float], min_pixels: int) -> np.ndarray:
    factor = upsampling_factor(mask.shape, min_pixels)
    upsampled = np.kron(mask, np.ones((factor, factor), dtype=mask.dtype))
    layer = np.zeros((*upsampled.shape, 4), dtype=np.float32)
    layer[find_boundaries(upsampled, mode="inner")] = colour
    return layer


def boundary_layer(segments: np.ndarray, min_pixels: int = 256) -> np.ndarray:
    """RGBA layer of white region boundaries (alpha 0.6), drawn on a nearest-upsampled label map
    (:func:`upsampling_factor`) so lines stay thin on small images."""
    return _outline(segments, (1.0, 1.0, 1.0, 0.6), min_pixels)


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
    return _outline(np.isin(segments, order).astype(np.int32), TOP_REGION_COLOUR, min_pixels)


def composite_cell(image: np.ndarray, cam: np.ndarray, *layers: np.ndarray) -> np.ndarray:
    """One uint8 RGB picture of a cell: the image (uint8 (H,W,3), nearest-upsampled), its CAM (in
    [0, 1], upsampled by the scores' half-pixel bilinear kernel, then coloured) at alpha 0.5 and the RGBA ``layers`` over it in order,
    at the layers' size (F*H, F*W) or the image's size without layers."""
    height, width = image.shape[:2]
    factor = layers[0].shape[0] // height if layers else 1
    pixels = np.repeat(np.repeat(image, factor, axis=0), factor, axis=1).astype(np.float32) / 255.0
    smooth = bilinear(np.asarray(cam, dtype=np.float32), (factor * height, factor * width))
    colours = colormaps[CAM_CMAP](np.clip(smooth, 0.0, 1.0)).astype(np.float32)  # NaN: "bad" colour, alpha 0
    pixels += CAM_ALPHA * colours[..., 3:] * (colours[..., :3] - pixels)
    for layer in layers:
        pixels += layer[..., 3:] * (layer[..., :3] - pixels)
    return np.round(pixels * 255.0).astype(np.uint8)


def overlay_cell(
    ax: Axes,
    image: np.ndarray,
    cam: np.ndarray,
    boundaries: np.ndarray | None,
    *,
    outline: np.ndarray | None = None,
    extent: tuple[float, float, float, float] | None = None,
) -> None:
    """Image, CAM at alpha 0.5 (inferno, 0-1), optional white region boundaries and top-region
    ``outline`` (RGBA layers) as one picture at ``extent`` (the image's pixels by default)."""
    height, width = image.shape[:2]
    layers = [layer for layer in (boundaries, outline) if layer is not None]
    ax.imshow(
        composite_cell(image, cam, *layers),
        interpolation="nearest",
        extent=extent if extent is not None else (-0.5, width - 0.5, height - 0.5, -0.5),
    )


def spill(titles: Sequence[str], cell: float, *, fontsize: float, fontweight: str = "normal") -> float:
    """Inches by which the widest of ``titles`` (its longest line) passes each side of a cell
    ``cell`` inches wide when centred on it; 0 if all fit."""
    font = FontProperties(size=fontsize, weight=fontweight)
    measure = TextToPath().get_text_width_height_descent
    widest = max(
        (measure(line, font, ismath=False)[0] / 72 for text in titles for line in text.split("\n")), default=0.0
    )
    return max(0.0, (widest - cell) / 2)


@dataclass(frozen=True)
class CellGrid:
    """Fixed layout, in inches, of ``rows`` x ``columns`` square cells of side ``cell``: ``left``,
    ``right``, ``top`` and ``bottom`` margins (row labels, headers, colour bar), ``gap`` between
    columns and ``title`` above every cell for its title. One Axes spans the figure, with inches
    as data coordinates (y down), so the figure is saved as laid out."""

    rows: int
    columns: int
    cell: float
    left: float
    right: float
    top: float
    bottom: float
    gap: float
    title: float

    @property
    def size(self) -> tuple[float, float]:
        """Width and height of the figure."""
        width = self.left + self.columns * self.cell + (self.columns - 1) * self.gap + self.right
        return width, self.top + self.rows * (self.title + self.cell) + self.bottom

    def box(self, row: int, column: int) -> tuple[float, float, float, float]:
        """The cell's extent (left, right, bottom, top) in the Axes' coordinates."""
        x = self.left + column * (self.cell + self.gap)
        y = self.top + row * (self.title + self.cell) + self.title
        return x, x + self.cell, y + self.cell, y

    def figure(self) -> tuple[Figure, Axes]:
        """A figure of :attr:`size` and its one Axes, without axis lines."""
        width, height = self.size
        figure = new_figure(width, height, constrained=False, exact=True)
        ax = figure.add_axes((0.0, 0.0, 1.0, 1.0))
        ax.set_axis_off()
        ax.set_xlim(0.0, width)
        ax.set_ylim(height, 0.0)
        return figure, ax

    def frame(self, ax: Axes) -> None:
        """A thin black frame around every cell, as an Axes' spines."""
        corners = []
        for row in range(self.rows):
            for column in range(self.columns):
                left, right, bottom, top = self.box(row, column)
                corners.append([(left, top), (right, top), (right, bottom), (left, bottom), (left, top)])
        ax.add_collection(LineCollection(corners, colors="black", linewidths=0.8, zorder=3))

    def cell_title(self, ax: Axes, row: int, column: int, text: str, *, pad: float = TITLE_PAD, **style: Any) -> None:
        """``text`` centred ``pad`` inches above a cell, as an Axes title."""
        left, right, _, top = self.box(row, column)
        ax.text((left + right) / 2, top - pad, text, ha="center", va="bottom", **style)

    def row_label(self, ax: Axes, row: int, text: str, **style: Any) -> None:
        """``text`` upright, left of the row's first cell, as an Axes y label."""
        left, _, bottom, top = self.box(row, 0)
        ax.text(
            left - LABEL_PAD,
            (bottom + top) / 2,
            text,
            rotation=90,
            ha="right",
            va="center",
            multialignment="center",
            **style,
        )
