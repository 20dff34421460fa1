"""Class blob map: a baseline that games the robustness metric, one fixed blob per class."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from camrobust.cams.centre_map import gaussian_on_grid
from camrobust.seeding import torch_generator

BLOB_CENTRE_RANGE = (0.2, 0.8)
"""Range of the blob centre's coordinates, as fractions of the side (uniform, per axis)."""
BLOB_SIGMA_RANGE = (0.08, 0.2)
"""Range of the blob's standard deviation, as a fraction of the side (uniform)."""


def class_blob(target: int, seed: int) -> tuple[float, float, float]:
    """(c_y, c_x, sigma) of class ``target``'s blob: three U(0, 1) draws u from the generator of
    ("class_blob_map", target, seed), mapped to c = 0.2 + 0.6 u and sigma = 0.08 + 0.12 u."""
    u = torch.rand(3, generator=torch_generator("class_blob_map", target, seed), dtype=torch.float64).tolist()
    (lo, hi), (s_lo, s_hi) = BLOB_CENTRE_RANGE, BLOB_SIGMA_RANGE
    return lo + (hi - lo) * u[0], lo + (hi - lo) * u[1], s_lo + (s_hi - s_lo) * u[2]


def class_blob_map(
    images01: Tensor, targets: Tensor, *, ids: Sequence[str], grid: tuple[int, int], seed: int
) -> Tensor:
    """Class blob map: the Gaussian blob of the explained class ``targets[n]`` (:func:`class_blob`)
    on the ``grid``, the same map for every image of that class.

    It explains nothing about the image, yet it never moves while the predicted class holds and
    always moves when the class changes: consistency 1 and a high responsiveness, the map that
    games the robustness metric RM."""
    blobs = torch.tensor([class_blob(int(t), seed) for t in targets.tolist()], dtype=torch.float64)
    blobs = blobs.reshape(-1, 3).to(device=images01.device, dtype=torch.float32)
    return gaussian_on_grid(blobs[:, :2], blobs[:, 2], grid)
