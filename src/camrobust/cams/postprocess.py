"""Raw maps on the target layer's grid -> maps at image resolution in [0, 1].

Every method's raw map goes through :func:`postprocess`, which reproduces pytorch-grad-cam 1.5.x
so that maps match that library's. The dtype rule (:func:`at_least_float32`) is shared by the
engine: maps are computed in float32, or in float64 for float64 models.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def at_least_float32(x: Tensor) -> Tensor:
    """x as float32, or as it is when of a wider float type (float64 maps for float64 models)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _minmax(x: Tensor) -> Tensor:
    x = x - x.amin((-2, -1), keepdim=True)
    return x / (x.amax((-2, -1), keepdim=True) + 1e-7)


def postprocess(raw: Tensor, output_size: Sequence[int]) -> Tensor:
    """pytorch-grad-cam 1.5.x post-processing of raw maps (..., h, w) -> (..., H, W) in [0, 1]:
    ReLU, per-map min-max (x - min) / (max - min + 1e-7), bilinear upsampling with half-pixel
    centres (align_corners=False, no antialias: cv2.resize INTER_LINEAR), min-max again
    (BaseCAM.aggregate_multi_layers rescales the upsampled map). float32, or float64 for float64
    raw maps."""
    lead, size = raw.shape[:-2], (int(output_size[0]), int(output_size[1]))
    maps = _minmax(at_least_float32(raw).clamp_min(0)).reshape(-1, 1, *raw.shape[-2:])
    maps = F.interpolate(maps, size=size, mode="bilinear", align_corners=False, antialias=False)
    return _minmax(maps.view(*lead, *size))
