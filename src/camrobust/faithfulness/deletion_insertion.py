"""Deletion and insertion (Petsiuk et al. 2018, RISE): does the prediction follow the map's pixels?

The pixels are ranked by the image-resolution CAM, highest first (ties in raster order). For a
pixel count c, deletion replaces the c first-ranked pixels of the image by the deletion baseline
B; insertion starts from the start image S and restores the c first-ranked pixels of the image::

    x_del(c) = where(rank < c, B, x)        x_ins(c) = where(rank < c, x, S)
    p(c)     = softmax(f(x(c)))[t]          (t: the explained class)

Both curves are read at ``steps`` pixel counts c_0 = 0 < c_1 < ... < c_{S-1} = P (P pixels) and
integrated over the deleted fraction x_k = c_k / P by the trapezoidal rule::

    AUC = sum_k (x_{k+1} - x_k) (p(c_k) + p(c_{k+1})) / 2   in [0, 1].

A faithful map has a low deletion AUC (the probability falls as soon as its pixels go) and a high
insertion AUC. Pixel counts (``spacing``): ``even``: c_k = floor(k P / (steps - 1)); ``ceil``:
torchcam's, c_k = k ceil(P / (steps - 1)) while below P, then P (fewer points when the step
does not divide P). torchcam 0.5's ``DeletionInsertionMetric(steps=T)`` is reproduced by
``steps=T + 1, spacing="ceil", deletion_baseline="mean", insertion_start="mean"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from camrobust.faithfulness.perturbation import (
    DEFAULT_BLUR_SIGMA,
    Reference,
    batched_probabilities,
    check_batch,
    check_reference,
    check_steps,
    finite_maps,
    masked_probabilities,
    pixel_ranks,
    reference_images,
    trapezoid_auc,
)

Spacing = Literal["even", "ceil"]
SPACINGS: tuple[str, ...] = ("even", "ceil")


@dataclass(frozen=True)
class DeletionInsertionSettings:
    """How the deletion and insertion curves are measured.

    ``steps``: points per curve, both ends included (default 21: every 5 % of the pixels);
    ``spacing``: the pixel counts (module docstring); ``deletion_baseline``: what deleted pixels
    become (default ``mean``: zeros of the normalised input, RISE's and torchcam's choice);
    ``insertion_start``: the image insertion starts from (default ``blur``, RISE's choice: a
    start image without any of the image's detail but its colours);
    ``blur_sigma``: the blur's standard deviation as a fraction of the image side (default 5 px
    at 224 px); ``batch_size``: perturbed inputs per model forward."""

    steps: int = 21
    spacing: Spacing = "even"
    deletion_baseline: Reference = "mean"
    insertion_start: Reference = "blur"
    blur_sigma: float = DEFAULT_BLUR_SIGMA
    batch_size: int = 64

    def __post_init__(self) -> None:
        check_steps(self.steps, "steps")
        if self.spacing not in SPACINGS:
            raise ValueError(f"spacing: {self.spacing!r} unknown; allowed: {', '.join(SPACINGS)}")
        check_reference(self.deletion_baseline, "deletion_baseline")
        check_reference(self.insertion_start, "insertion_start")
        if not self.blur_sigma > 0:
            raise ValueError(f"blur_sigma: must be > 0, got {self.blur_sigma}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")


@dataclass(frozen=True)
class DeletionInsertion:
    """Curves and AUCs of N images: ``fractions`` (S,) the deleted (inserted) share of the pixels,
    ``deletion`` and ``insertion`` (N,S) the target-class probabilities, ``deletion_auc`` and
    ``insertion_auc`` (N,). NaN rows for maps with a non-finite value."""

    fractions: Tensor
    deletion: Tensor
    insertion: Tensor
    deletion_auc: Tensor
    insertion_auc: Tensor


def pixel_counts(n_pixels: int, steps: int, spacing: Spacing = "even") -> list[int]:
    """The pixel counts c_0 = 0 < ... = n_pixels the curves are read at (module docstring)."""
    check_steps(steps, "steps")
    if spacing == "even":
        counts = [k * n_pixels // (steps - 1) for k in range(steps)]
    elif spacing == "ceil":
        step = math.ceil(n_pixels / (steps - 1))
        counts = [*range(0, n_pixels, step), n_pixels]
    else:
        raise ValueError(f"spacing: {spacing!r} unknown; allowed: {', '.join(SPACINGS)}")
    return sorted(set(counts))


def deletion_insertion(
    model: nn.Module,
    inputs: Tensor,
    maps: Tensor,
    targets: Tensor,
    settings: DeletionInsertionSettings | None = None,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> DeletionInsertion:
    """Deletion and insertion curves and AUCs (module docstring) of ``model`` (eval mode) on the
    normalised ``inputs`` (N,C,H,W), ranked by ``maps`` (N,H,W) at the inputs' resolution, for the
    classes ``targets`` (N,). ``mean`` and ``std``, the model's normalisation, are needed for the
    ``black`` reference only.

    Forwards: one of the clean images and one of each reference image per image, then the
    steps - 2 inner points of both curves, ``settings.batch_size`` perturbed inputs per forward
    over all (image, step) pairs."""
    settings = settings or DeletionInsertionSettings()
    check_batch(model, inputs, maps, targets, settings.batch_size)
    targets = targets.to(device=inputs.device, dtype=torch.long)
    maps, finite = finite_maps(maps.to(inputs.device))
    n_images, n_pixels = len(inputs), maps[0].numel()
    counts = pixel_counts(n_pixels, settings.steps, settings.spacing)
    fractions = torch.tensor(counts, dtype=torch.float64, device=inputs.device) / n_pixels
    baseline = reference_images(inputs, settings.deletion_baseline, blur_sigma=settings.blur_sigma, mean=mean, std=std)
    same_start = settings.insertion_start == settings.deletion_baseline
    start = (
        baseline
        if same_start
        else reference_images(inputs, settings.insertion_start, blur_sigma=settings.blur_sigma, mean=mean, std=std)
    )
    ends = batched_probabilities(
        model, [inputs, baseline] if same_start else [inputs, baseline, start], targets, settings.batch_size
    )
    clean_p, baseline_p, start_p = ends[0], ends[1], ends[-1]
    inner = torch.tensor(counts[1:-1], dtype=torch.long, device=inputs.device)
    rows = torch.arange(n_images, device=inputs.device).repeat_interleave(len(inner))
    row_counts = inner.repeat(n_images)
    ranks = pixel_ranks(maps)
    deleted, inserted = (
        masked_probabilities(
            model,
            source=source,
            reference=reference,
            ranks=ranks,
            rows=rows,
            counts=row_counts,
            targets=targets,
            batch_size=settings.batch_size,
        )
        for source, reference in ((inputs, baseline), (start, inputs))
    )
    deletion = torch.cat([clean_p[:, None], deleted.view(n_images, -1), baseline_p[:, None]], 1)
    insertion = torch.cat([start_p[:, None], inserted.view(n_images, -1), clean_p[:, None]], 1)
    nan = torch.tensor(math.nan, dtype=deletion.dtype, device=deletion.device)
    deletion = torch.where(finite[:, None], deletion, nan)
    insertion = torch.where(finite[:, None], insertion, nan)
    return DeletionInsertion(
        fractions=fractions,
        deletion=deletion,
        insertion=insertion,
        deletion_auc=trapezoid_auc(deletion, fractions),
        insertion_auc=trapezoid_auc(insertion, fractions),
    )
