"""Edge map: a baseline that explains nothing about the model, the image's Sobel edges."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

LUMA_WEIGHTS = (0.299, 0.587, 0.114)
"""ITU-R BT.601 luma weights of R, G, B (those of ``camrobust.noise.pixels.GREY_WEIGHTS``)."""

SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
"""Sobel kernel of the horizontal derivative (cross-correlation); its transpose gives the vertical."""


def edge_map(images01: Tensor, targets: Tensor, *, ids: Sequence[str], grid: tuple[int, int], seed: int) -> Tensor:
    """Edge map: the Sobel gradient magnitude sqrt(G_x^2 + G_y^2) of the luma
    Y = 0.299 R + 0.587 G + 0.114 B of the images in [0, 1], at image resolution (N, H, W).

    G_x and G_y are cross-correlations of Y with :data:`SOBEL_X` and its transpose, the image
    border replicated. The ``grid`` is not used: the map has the image's own resolution, so its
    post-processing keeps every pixel."""
    x = images01.to(torch.promote_types(images01.dtype, torch.float32))
    weights = torch.tensor(LUMA_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    luma = F.pad((x * weights).sum(1, keepdim=True), (1, 1, 1, 1), mode="replicate")
    sobel_x = torch.tensor(SOBEL_X, dtype=x.dtype, device=x.device)
    kernels = torch.stack([sobel_x, sobel_x.T]).unsqueeze(1)
    gradients = F.conv2d(luma, kernels)
    return gradients.pow(2).sum(1).sqrt()
