"""Random map: a baseline that explains nothing, uniform noise on the target layer's grid."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from camrobust.seeding import torch_generator


def random_map(images01: Tensor, targets: Tensor, *, ids: Sequence[str], grid: tuple[int, int], seed: int) -> Tensor:
    """Random map: every cell of the (h, w) ``grid`` drawn from U(0, 1), per image from the
    generator of ("random_map", image id, seed) (:func:`camrobust.seeding.torch_generator`).

    Drawn on the CPU and moved to the images' device, so the map of an image is the same on any
    device, in any batch and in any job. It depends on the image id only, not on its pixels: the
    map of a noisy version of an image is its clean map, unless the caller folds the condition into
    the id (e.g. ``f"{image_id}/{noise}/{severity}"``) to draw afresh per condition."""
    h, w = grid
    maps = [torch.rand(h, w, generator=torch_generator("random_map", image_id, seed)) for image_id in ids]
    return torch.stack(maps).to(images01.device)
