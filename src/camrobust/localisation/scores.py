"""Localisation scores of maps against ground-truth object masks, batched over images.

Every function takes maps (N,H,W) at image resolution (post-processed CAMs, values >= 0) and
boolean masks (N,H,W), needs no model and returns (N,) on the maps' device: NaN for an image
whose mask is empty or whose map has a non-finite value. Ties are read as ties: where several
pixels share the deciding value, a score is its expectation over the orders that break the tie
uniformly at random, so it never depends on pixel order (for maps without ties it is the plain
definition, Quantus' value).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def _check(maps: Tensor, masks: Tensor) -> None:
    if maps.ndim != 3 or not maps.is_floating_point():
        raise ValueError(f"maps: expected a float tensor (N,H,W), got {maps.dtype} {tuple(maps.shape)}")
    if tuple(masks.shape) != tuple(maps.shape) or masks.dtype != torch.bool:
        raise ValueError(
            f"masks: expected a bool tensor of the maps' shape {tuple(maps.shape)}, got {masks.dtype} {tuple(masks.shape)}"
        )


def _count(flags: Tensor, dim: int = -1) -> Tensor:
    """Number of True values along ``dim`` as int64. Summed as uint8 into int32 (exact below 2^31
    pixels), several times faster than a bool sum, which takes a slow int64 path on the CPU."""
    return flags.view(torch.uint8).sum(dim, dtype=torch.int32).long()


def _undefined(maps: Tensor, masks: Tensor) -> Tensor:
    """(N,) True where the score is undefined: an empty mask or a non-finite map (one pass: a map's
    sum is finite exactly when its values are, short of overflow, which maps in [0, 1] cannot reach)."""
    return ~masks.flatten(1).any(1) | ~torch.isfinite(maps.flatten(1).sum(1))


def _with_nan(values: Tensor, undefined: Tensor) -> Tensor:
    return torch.where(undefined, torch.full_like(values, math.nan), values)


def dilate(masks: Tensor, radius: float) -> Tensor:
    """Masks grown by every pixel within Euclidean distance ``radius`` px of the mask (a disc of
    that radius around each mask pixel, centre to centre); ``radius`` 0 returns them as they are."""
    if radius < 0:
        raise ValueError(f"tolerance: must be >= 0 px, got {radius}")
    r = math.floor(radius)
    if r == 0:
        return masks
    offsets = torch.arange(-r, r + 1, device=masks.device, dtype=torch.float32)
    disc = (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).to(torch.float32)
    grown = F.conv2d(masks.unsqueeze(1).to(torch.float32), disc.view(1, 1, *disc.shape), padding=r)
    return grown.squeeze(1) > 0.5


def pointing_game(maps: Tensor, masks: Tensor, *, tolerance: float = 0.0) -> Tensor:
    """Pointing game (Zhang et al. 2018): 1 when the map's maximum lies on the object, else 0.

    ``tolerance``: a maximum within that many pixels (Euclidean, centre to centre) of a mask pixel
    counts as a hit: the mask is dilated by a disc of that radius. Default 0: the maximum must lie
    in the mask, as Quantus' PointingGame; Zhang et al. allow 15 px at 224 px (tolerance=15 there,
    scale it with the image size). With M maximal pixels (ties), of which h are hits, the score
    is h / M, the hit rate of a maximum picked at random: a flat map scores the mask's area share,
    not 1."""
    _check(maps, masks)
    undefined = _undefined(maps, masks)
    flat = maps.flatten(1)
    top = flat == flat.amax(1, keepdim=True)
    hits = _count(top & dilate(masks, tolerance).flatten(1))
    return _with_nan(hits.to(maps.dtype) / _count(top).clamp_min(1), undefined)


def energy_pointing_game(maps: Tensor, masks: Tensor) -> Tensor:
    """Energy-based pointing game (Wang et al. 2020): sum_{q in mask} e_q / sum_q e_q, the share
    of the map's mass on the object, in [0, 1] for maps >= 0 (Quantus' AttributionLocalisation
    without its weighting). Summed in float64; NaN also where the map's total is 0."""
    _check(maps, masks)
    values = maps.flatten(1).to(torch.float64)
    inside = (values * masks.flatten(1)).sum(1)
    total = values.sum(1)
    share = inside / torch.where(total == 0, torch.ones_like(total), total)
    return _with_nan(share.to(maps.dtype), _undefined(maps, masks) | (total == 0))


def _kth_largest(flat: Tensor, ks: list[int]) -> Tensor:
    """The k-th largest value of each row (k >= 1; 1 for k = 0) -> (N,), by selection: NumPy's
    introselect on the CPU (O(P) a row), ``topk`` elsewhere; a sort would be O(P log P)."""
    n_pixels = flat.shape[1]
    if flat.device.type == "cpu":
        rows = flat.detach().numpy()
        kth = [np.partition(row, n_pixels - max(k, 1))[n_pixels - max(k, 1)] for row, k in zip(rows, ks, strict=True)]
        return torch.from_numpy(np.asarray(kth, dtype=rows.dtype))
    return torch.stack([row.topk(max(k, 1)).values[-1] for row, k in zip(flat, ks, strict=True)])


def relevance_rank_accuracy(maps: Tensor, masks: Tensor) -> Tensor:
    """Relevance rank accuracy (Arras et al. 2022): of the K highest pixels of the map, K = the
    mask's size in pixels, the share inside the mask.

    With t the K-th highest value, a pixels above t (a_in of them in the mask) and g pixels equal
    to t (g_in in the mask), K - a of the tied pixels are picked at random::

        RRA = (a_in + (K - a) g_in / g) / K

    which is the plain count for maps without a tie at t (as Quantus' RelevanceRankAccuracy)."""
    _check(maps, masks)
    undefined = _undefined(maps, masks)
    flat = maps.flatten(1)
    inside = masks.flatten(1)
    k = _count(inside)
    threshold = _kth_largest(flat, k.tolist()).unsqueeze(1)
    above = flat > threshold
    tied = flat == threshold
    a, g, a_in, g_in = _count(torch.stack([above, tied, above & inside, tied & inside])).to(torch.float64)
    g = g.clamp_min(1)
    kf = k.to(torch.float64).clamp_min(1)
    return _with_nan(((a_in + (kf - a) * g_in / g) / kf).to(maps.dtype), undefined)
