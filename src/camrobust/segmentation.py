"""Superpixel segmentation of clean images into the regions whose CAM importance is ranked.

Each clean image is segmented once, as the first step of scoring; the same labels are used for the
clean and the noisy CAM. Labels are int32 ``(N, H, W)``, contiguous ``0..m-1`` per image.

Default parameters depend on the image size so that an image has roughly 20-60 regions.
LIME's Quickshift values (kernel_size=4, max_dist=200, ratio=0.2) give about 30 regions on a
224 px photo but about 4 on a 64 px synthetic image. Measured medians [min-max] of ``m`` with
:func:`default_segmentation` on synthetic images (random coloured rectangles with Gaussian
texture of sd 5 / 12 / 25 grey levels; one disc on a flat background), 4-8 images each:

=====  ==================  ============================================================
size   kernel/max_dist     m: rects sd5, sd12, sd25, flat disc
=====  ==================  ============================================================
32     1.0 / 6             22 [20-28], 29 [26-34], 41 [29-50], 17 [16-17]
48     1.125 / 6           32 [29-35], 37 [31-40], 60 [51-78], 22 [21-26]
64     1.5 / 8             30 [25-32], 36 [34-40], 43 [36-47], 24 [18-28]
96     2.25 / 12           30 [27-36], 32 [28-42], 40 [39-43], 29 [27-34]
128    3.0 / 16            27 [26-32], 34 [27-40], 35 [29-39], 28 [27-35]
160    3.75 / 20           26 [25-27], 27 [24-29], 31 [30-36], 22 [18-25]
224    4 / 200 (LIME)      42 [40-49], 48 [45-51], 50 [47-61], 49 [45-53]
=====  ==================  ============================================================

On the pipeline's own shapes images (``datasets.generate_shapes``, 24 each) the Quickshift
defaults give 25-31 regions (plain) and 23-36 (cluttered) at 64 px, but 15-20 and 14-32 at
32 px. At 32 px and below Quickshift cannot keep 20-60 stable regions on flat backgrounds
(16 px: 4-47 depending on texture); use ``method="slic"`` there. :data:`SLIC_DEFAULT` gives
34-36 regions on the shapes images at 32 and 64 px, and on the rectangle / disc images 19-25
at 16 px, 31-36 at 32 px and 28-36 at 64-224 px.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np
from skimage.segmentation import quickshift, slic

SEGMENTATION_METHODS: tuple[str, ...] = ("quickshift", "slic")

LIME_QUICKSHIFT: dict[str, float] = {"kernel_size": 4.0, "max_dist": 200.0, "ratio": 0.2}
"""LIME's Quickshift parameters, used from 224 px up."""

SLIC_DEFAULT: dict[str, float] = {"n_segments": 40, "compactness": 40.0}
"""SLIC parameters: 19-36 superpixels at 16-224 px on the test images above (compactness 10
gives 7-23 on textured images, connectivity enforcement merging the ragged pieces)."""

_SEGMENTERS = {"quickshift": quickshift, "slic": slic}
_FIXED_PARAMS: dict[str, dict[str, Any]] = {
    "quickshift": {},
    "slic": {"start_label": 0, "channel_axis": -1},
}


def default_segmentation(image_size: int, method: str = "quickshift") -> dict[str, float]:
    """Segmentation parameters giving roughly 20-60 regions on images of ``image_size`` px.

    Quickshift below 224 px: ``kernel_size = max(1, 1.5 * size / 64)``,
    ``max_dist = max(6, size / 8)``, ``ratio = 0.2``; from 224 px: LIME's values.
    SLIC: ``n_segments = 40``, ``compactness = 40`` at every size.
    """
    _check_method(method)
    if image_size < 1:
        raise ValueError(f"image_size must be a positive number of pixels, got {image_size}")
    if method == "slic":
        return dict(SLIC_DEFAULT)
    if image_size >= 224:
        return dict(LIME_QUICKSHIFT)
    return {
        "kernel_size": max(1.0, 1.5 * image_size / 64),
        "max_dist": max(6.0, image_size / 8),
        "ratio": 0.2,
    }


def chosen_params(
    image_size: int, method: str = "quickshift", params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The parameters images of ``image_size`` px are segmented with: ``params`` when given,
    else :func:`default_segmentation`."""
    return dict(params) if params else default_segmentation(image_size, method)


def segment(images: np.ndarray, method: str = "quickshift", **params: Any) -> np.ndarray:
    """Segment uint8 RGB images ``(N, H, W, 3)`` into int32 labels ``(N, H, W)``, 0..m-1 each.

    ``params`` are keyword arguments of skimage's ``quickshift`` / ``slic``; missing ones are
    taken from :func:`default_segmentation` for the image height. Deterministic: Quickshift's
    tie-breaking noise uses skimage's fixed default seed.
    """
    _check_method(method)
    _check_images(images)
    chosen = default_segmentation(images.shape[1], method)
    chosen.update(params)
    _check_params(method, chosen)
    segmenter = _SEGMENTERS[method]
    labels = np.empty(images.shape[:3], dtype=np.int32)
    for index, image in enumerate(images):
        raw = segmenter(image, **chosen, **_FIXED_PARAMS[method])
        labels[index] = np.unique(raw, return_inverse=True)[1].reshape(raw.shape)
    return labels


def region_counts(segments: np.ndarray) -> np.ndarray:
    """Number of regions ``m`` per image of contiguous labels ``(N, H, W)``: max label + 1."""
    if segments.ndim != 3:
        raise ValueError(f"segments must have shape (N, H, W), got {segments.shape}")
    return segments.reshape(len(segments), -1).max(axis=1).astype(np.int64) + 1


def _check_method(method: str) -> None:
    if method not in SEGMENTATION_METHODS:
        raise ValueError(f"unknown segmentation method {method!r}; allowed: {', '.join(SEGMENTATION_METHODS)}")


def _check_images(images: np.ndarray) -> None:
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {tuple(images.shape)}")


def _check_params(method: str, params: dict[str, Any]) -> None:
    accepted = set(inspect.signature(_SEGMENTERS[method]).parameters) - {"image"}
    accepted -= set(_FIXED_PARAMS[method])
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(f"unknown {method} parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(accepted))}")
