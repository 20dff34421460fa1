"""Centre map: a baseline that explains nothing, a Gaussian centred on the image.

:func:`gaussian_on_grid` is shared with the class blob map."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

CENTRE_SIGMA = 0.25
"""Standard deviation of the centre map's Gaussian, as a fraction of the image side (per axis)."""


def gaussian_on_grid(centres: Tensor, sigmas: Tensor, grid: tuple[int, int]) -> Tensor:
    """Gaussians exp(-((v - c_y)^2 + (u - c_x)^2) / (2 sigma^2)) on an (h, w) grid -> (N, h, w).

    Coordinates are fractions of the side: cell (i, j) has its centre at v = (i + 0.5) / h,
    u = (j + 0.5) / w, so the same Gaussian drawn on any grid samples one continuous map.
    ``centres`` (N, 2) holds (c_y, c_x), ``sigmas`` (N,) the standard deviations; the result is on
    their device and of their dtype."""
    h, w = grid
    v = (torch.arange(h, dtype=centres.dtype, device=centres.device) + 0.5) / h
    u = (torch.arange(w, dtype=centres.dtype, device=centres.device) + 0.5) / w
    dy = (v[None, :, None] - centres[:, 0, None, None]) ** 2
    dx = (u[None, None, :] - centres[:, 1, None, None]) ** 2
    return torch.exp(-(dy + dx) / (2 * sigmas[:, None, None] ** 2))


def centre_map(images01: Tensor, targets: Tensor, *, ids: Sequence[str], grid: tuple[int, int], seed: int) -> Tensor:
    """Centre map: the Gaussian of standard deviation :data:`CENTRE_SIGMA` (a quarter of the side)
    centred on the image, on the ``grid``; the same map for every image (the centre bias of photos
    as an "explanation")."""
    n = len(images01)
    centres = torch.full((n, 2), 0.5, dtype=torch.float32, device=images01.device)
    sigmas = torch.full((n,), CENTRE_SIGMA, dtype=torch.float32, device=images01.device)
    return gaussian_on_grid(centres, sigmas, grid)
