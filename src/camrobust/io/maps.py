"""CAM stores: the raw maps of one method on one condition's images.

A CAM store holds ``maps`` (image, severity, h, w) float32, the raw map on the target layer's
grid after the ReLU, and ``severity``; attrs ``cam`` and ``image_size``. :func:`pixel_maps` turns
stored maps into image-resolution maps in [0, 1] (:func:`camrobust.core.maps.upsampled_maps`),
as the scores compare them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import zarr

from camrobust.core.conditions import read_rows
from camrobust.core.maps import upsampled_maps

PathLike = str | os.PathLike[str]
CAM_DIMS = ("image", "severity", "h", "w")


def cam_attrs(method: str, image_size: Sequence[int]) -> dict[str, Any]:
    """The attributes of a CAM store: its method and the image size its maps upsample to."""
    return {"cam": method, "image_size": [int(x) for x in image_size]}


def pixel_maps(cam_store: zarr.Group, rows: slice | Sequence[int]) -> np.ndarray:
    """Image-resolution maps in [0, 1] (n, S, H, W) float32 of ``rows`` of a CAM store: the raw
    maps post-processed as :func:`camrobust.cams.postprocess` does (ReLU, min-max, bilinear
    upsampling), by :func:`camrobust.core.maps.upsampled_maps`, which takes torch's kernel only
    when the whole store's maps are large enough to repay its import."""
    maps = cam_store["maps"]
    height, width = cam_store.attrs["image_size"]
    job_pixels = int(np.prod(maps.shape[:-2])) * int(height) * int(width)
    return upsampled_maps(read_rows(maps, rows), (height, width), job_pixels=job_pixels)
