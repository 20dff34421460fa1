"""Region deletion (IROF-like, Rieger & Hansen 2020): delete the clean image's regions in the
order of the region ranking the robustness score compares.

The regions are the clean image's segmentation (the Quickshift or SLIC labels that scoring
uses); region j's importance is its mean CAM value, I_j = sum_{q in j} e_q / |j|, and the regions
are deleted cumulatively from the most important (ties by label). With m regions and the first k
of them replaced by the baseline B::

    x(k) = where(region rank < k, B, x),   p_k = softmax(f(x(k)))[t],   k = 0 .. m,
    AUC  = sum_{k<m} (1/m) (p_k + p_{k+1}) / 2        in [0, 1]  (x axis: k / m),

lower is better: the prediction should fall as soon as the regions the map ranks first go.
Quantus' IROF reads the same curve as an area over p_k / p_0 for k = 1..m in units of regions,
AOC = m - sum_{k=1}^{m-1} (p_k + p_{k+1}) / (2 p_0); :func:`quantus_irof` converts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from camrobust.faithfulness.perturbation import (
    DEFAULT_BLUR_SIGMA,
    Reference,
    check_batch,
    check_reference,
    finite_maps,
    masked_probabilities,
    reference_images,
    trapezoid_auc,
)
from camrobust.scoring import region_importance


@dataclass(frozen=True)
class RegionDeletionSettings:
    """``baseline``: what deleted regions become (default ``mean``: zeros of the normalised input,
    see :data:`camrobust.faithfulness.perturbation.REFERENCES`); ``blur_sigma``: for ``blur``;
    ``batch_size``: perturbed inputs per forward."""

    baseline: Reference = "mean"
    blur_sigma: float = DEFAULT_BLUR_SIGMA
    batch_size: int = 64

    def __post_init__(self) -> None:
        check_reference(self.baseline, "baseline")
        if not self.blur_sigma > 0:
            raise ValueError(f"blur_sigma: must be > 0, got {self.blur_sigma}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")


@dataclass(frozen=True)
class RegionDeletion:
    """``n_regions`` (N,) m per image; ``fractions`` and ``curves`` (N, M+1), k / m and p_k for
    k = 0..m, NaN beyond m (M = the largest m); ``auc`` (N,). NaN rows for maps with a
    non-finite value."""

    n_regions: Tensor
    fractions: Tensor
    curves: Tensor
    auc: Tensor


def region_ranks(maps: Tensor, segments: Tensor) -> tuple[Tensor, Tensor]:
    """(rank (N,H,W) int64 of each pixel's region, 0 = the highest mean CAM value, ties by label;
    m (N,) the regions present). The importances are :func:`camrobust.scoring.region_importance`'s,
    the values the robustness score ranks; labels absent from an image rank after all others."""
    n_max = int(segments.max()) + 1
    importance = region_importance(maps, segments, n_max)
    key = np.where(np.isnan(importance), np.inf, -importance)
    order = np.argsort(key, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n_max)[None, :].repeat(len(order), 0), axis=1)
    rank_t = torch.from_numpy(rank).to(segments.device)
    pixel_rank = rank_t.gather(1, segments.flatten(1).long()).view_as(segments)
    present = torch.from_numpy(np.isfinite(importance).sum(1)).to(segments.device)
    return pixel_rank, present


def region_deletion(
    model: nn.Module,
    inputs: Tensor,
    maps: Tensor,
    segments: Tensor,
    targets: Tensor,
    settings: RegionDeletionSettings | None = None,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> RegionDeletion:
    """Region deletion curves and AUCs (module docstring) of ``model`` (eval mode) on the
    normalised ``inputs`` (N,C,H,W), the clean images' ``segments`` (N,H,W) integer labels, ranked
    by ``maps`` (N,H,W) at the inputs' resolution, for the classes ``targets`` (N,). ``mean`` and
    ``std`` are needed for the ``black`` baseline only. All sum(m + 1) (image, k) rows go
    ``settings.batch_size`` per forward."""
    settings = settings or RegionDeletionSettings()
    check_batch(model, inputs, maps, targets, settings.batch_size)
    if tuple(segments.shape) != tuple(maps.shape) or segments.is_floating_point() or segments.min() < 0:
        raise ValueError(
            f"segments: expected non-negative integer labels of shape {tuple(maps.shape)}, "
            f"got {segments.dtype} {tuple(segments.shape)}"
        )
    targets = targets.to(device=inputs.device, dtype=torch.long)
    maps, finite = finite_maps(maps.to(inputs.device))
    segments = segments.to(inputs.device)
    ranks, n_regions = region_ranks(maps, segments)
    baseline = reference_images(inputs, settings.baseline, blur_sigma=settings.blur_sigma, mean=mean, std=std)
    width = int(n_regions.max()) + 1
    steps = torch.arange(width, device=inputs.device)
    valid = steps[None, :] <= n_regions[:, None]
    rows = torch.arange(len(inputs), device=inputs.device)[:, None].expand(-1, width)[valid]
    counts = steps[None, :].expand(len(inputs), -1)[valid]
    values = masked_probabilities(
        model,
        source=inputs,
        reference=baseline,
        ranks=ranks,
        rows=rows,
        counts=counts,
        targets=targets,
        batch_size=settings.batch_size,
    )
    curves = torch.full((len(inputs), width), math.nan, dtype=values.dtype, device=inputs.device)
    curves[valid] = values
    fractions = torch.where(valid, steps[None, :] / n_regions.clamp_min(1)[:, None], math.nan).to(values.dtype)
    curves = torch.where(finite[:, None], curves, torch.full_like(curves, math.nan))
    return RegionDeletion(n_regions=n_regions, fractions=fractions, curves=curves, auc=trapezoid_auc(curves, fractions))


def quantus_irof(result: RegionDeletion) -> Tensor:
    """Quantus 0.6's IROF score from the curves: m - trapz(p_1..p_m / p_0, dx=1) -> (N,)."""
    scores = []
    for m, curve in zip(result.n_regions.tolist(), result.curves, strict=True):
        ratio = curve[1 : m + 1].double() / curve[0].double()
        scores.append(m - float(torch.trapezoid(ratio)))
    return torch.tensor(scores, dtype=torch.float64)
