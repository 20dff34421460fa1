"""What the faithfulness metrics share: the checks of a call, the reference images pixels are
replaced by, pixel rankings, the batched perturbed forward over (image, step) and the AUC.

A perturbed input is one image with some of its pixels taken from another image of the same
size (the reference: a baseline for deletion, the start image for insertion, the imputed image
for ROAD). :func:`masked_probabilities` evaluates any list of (image, count) rows, ``batch_size``
rows per forward, so memory is bounded by the batch size, never by images x steps, and every
tensor stays on the device of the inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Reference = Literal["mean", "black", "blur"]
REFERENCES: tuple[str, ...] = ("mean", "black", "blur")
"""How a deleted pixel is replaced, or what an insertion starts from:

- ``mean``: zeros of the normalised model input, i.e. the normalisation's mean colour (the
  dataset mean for ImageNet statistics; torchcam's default, and RISE's deletion substrate);
- ``black``: pixel value 0 before normalisation, (0 - mean) / std (needs ``mean`` and ``std``);
- ``blur``: the image blurred by a Gaussian of standard deviation ``blur_sigma`` x the image's
  shorter side (:func:`gaussian_blur`; RISE's insertion substrate)."""

DEFAULT_BLUR_SIGMA = 5 / 224
"""Standard deviation of the ``blur`` reference as a fraction of the image side: 5 px at 224 px,
the sigma of Petsiuk et al.'s blur (their kernel is cut at 11 x 11 px; this one at 3 sigma)."""


def check_steps(steps: int, setting: str = "steps") -> None:
    """ValueError naming ``setting`` unless ``steps`` is an integer >= 2 (a curve needs its two ends)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"{setting}: must be an integer >= 2 (the curve's first and last point), got {steps!r}")


def check_reference(reference: str, setting: str) -> None:
    """ValueError naming ``setting`` unless ``reference`` is one of :data:`REFERENCES`."""
    if reference not in REFERENCES:
        raise ValueError(f"{setting}: {reference!r} unknown; allowed: {', '.join(REFERENCES)}")


def check_batch(model: nn.Module, inputs: Tensor, maps: Tensor, targets: Tensor, batch_size: int) -> None:
    """ValueError, naming the argument, for a model in training mode, inputs that are not a
    non-empty float (N,C,H,W) batch, maps that are not (N,H,W) at the inputs' resolution, targets
    that are not one integer per input, or batch_size < 1."""
    if model.training:
        raise ValueError(
            "model: in training mode; call model.eval() (BatchNorm/Dropout would make scores batch-dependent)"
        )
    if inputs.ndim != 4 or not inputs.is_floating_point() or len(inputs) == 0:
        raise ValueError(
            f"inputs: expected a non-empty float tensor (N,C,H,W), got {inputs.dtype} {tuple(inputs.shape)}"
        )
    expected = (len(inputs), *inputs.shape[-2:])
    if tuple(maps.shape) != expected:
        raise ValueError(
            f"maps: expected {expected}, maps at the inputs' resolution (post-processed CAMs), got {tuple(maps.shape)}"
        )
    if targets.shape != (len(inputs),) or targets.is_floating_point():
        raise ValueError(f"targets: expected an integer tensor of shape ({len(inputs)},), got {tuple(targets.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")


def finite_maps(maps: Tensor) -> tuple[Tensor, Tensor]:
    """(maps with every non-finite map set to zeros, bool (N,) which maps were finite). A map with
    a NaN pixel ranks nothing; the callers compute on zeros and report NaN for it."""
    finite = torch.isfinite(maps).flatten(1).all(1)
    return torch.where(finite[:, None, None], maps, torch.zeros_like(maps)), finite


def gaussian_blur(images: Tensor, sigma: float) -> Tensor:
    """Images (N,C,H,W) blurred by a normalised Gaussian of standard deviation ``sigma`` px, cut at
    radius ceil(3 sigma) and applied separably (rows, then columns) with reflected borders. A linear
    filter whose weights sum to 1: blurring the normalised input equals normalising the blurred image."""
    radius = max(1, math.ceil(3 * sigma))
    radius = min(radius, images.shape[-2] - 1, images.shape[-1] - 1)
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    rows = kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    cols = kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    x = F.conv2d(F.pad(images, (radius, radius, 0, 0), mode="reflect"), rows, groups=channels)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), cols, groups=channels)


def reference_images(
    inputs: Tensor,
    reference: str,
    *,
    blur_sigma: float = DEFAULT_BLUR_SIGMA,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Tensor:
    """The reference images (N,C,H,W) of :data:`REFERENCES` for normalised ``inputs``."""
    check_reference(reference, "reference")
    if reference == "mean":
        return torch.zeros_like(inputs)
    if reference == "blur":
        if not blur_sigma > 0:
            raise ValueError(f"blur_sigma: must be > 0, got {blur_sigma}")
        return gaussian_blur(inputs, blur_sigma * min(inputs.shape[-2:]))
    if mean is None or std is None:
        raise ValueError("mean, std: the 'black' reference needs the model's normalisation, (0 - mean) / std")
    channels = inputs.shape[1]
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"mean, std: expected {channels} values each, got {list(mean)} and {list(std)}")
    m = torch.as_tensor(mean, dtype=inputs.dtype, device=inputs.device).view(1, channels, 1, 1)
    s = torch.as_tensor(std, dtype=inputs.dtype, device=inputs.device).view(1, channels, 1, 1)
    return ((0 - m) / s).expand_as(inputs).contiguous()


def pixel_ranks(maps: Tensor, descending: bool = True) -> Tensor:
    """Rank (N,H,W) int64 of every pixel of each map: 0 = the highest value (``descending``) or the
    lowest. Ties are broken by raster order (row by row), by a stable sort, as torchcam does, so the
    ranking is the same on every device."""
    flat = maps.flatten(1)
    order = torch.argsort(flat, dim=1, descending=descending, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1], device=maps.device).expand_as(order))
    return ranks.view_as(maps)


def target_probabilities(model: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
    """softmax(model(inputs))[n, targets[n]] -> (N,), the softmax taken in float32 (float64 for a
    float64 model), without autograd."""
    with torch.no_grad():
        logits = model(inputs)
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
        return torch.softmax(logits, 1).gather(1, targets.view(-1, 1).to(logits.device)).squeeze(1)


def batched_probabilities(model: nn.Module, images: Sequence[Tensor], targets: Tensor, batch_size: int) -> list[Tensor]:
    """:func:`target_probabilities` of each (N,C,H,W) tensor of ``images`` (all for the classes
    ``targets``) -> one (N,) tensor each, the rows of all of them ``batch_size`` per forward."""
    n = len(targets)
    total = n * len(images)
    out = torch.empty(total, dtype=torch.promote_types(images[0].dtype, torch.float32), device=images[0].device)
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        pieces = []
        for which in range(start // n, (stop - 1) // n + 1):
            lo, hi = max(start, which * n) - which * n, min(stop, (which + 1) * n) - which * n
            pieces.append(images[which][lo:hi])
        rows = torch.arange(start, stop, device=targets.device) % n
        out[start:stop] = target_probabilities(model, torch.cat(pieces), targets[rows])
    return list(out.view(len(images), n).unbind(0))


def masked_probabilities(
    model: nn.Module,
    *,
    source: Tensor,
    reference: Tensor,
    ranks: Tensor,
    rows: Tensor,
    counts: Tensor,
    targets: Tensor,
    batch_size: int,
) -> Tensor:
    """Target-class probability of perturbed inputs, one per row -> (R,).

    Row r is image i = ``rows[r]`` with its ``counts[r]`` first-ranked pixels taken from the
    reference: x_r = where(ranks[i] < counts[r], reference[i], source[i]) (a pixel's channels move
    together), and its value softmax(model(x_r))[targets[i]]. ``batch_size`` rows per forward; a
    forward may hold rows of several images, which an eval-mode model scores independently."""
    out = torch.empty(len(rows), dtype=torch.promote_types(source.dtype, torch.float32), device=source.device)
    for start in range(0, len(rows), batch_size):
        images = rows[start : start + batch_size]
        take = (ranks[images] < counts[start : start + batch_size].view(-1, 1, 1)).unsqueeze(1)
        perturbed = torch.where(take, reference[images], source[images])
        out[start : start + len(images)] = target_probabilities(model, perturbed, targets[images])
    return out


def trapezoid_auc(curves: Tensor, fractions: Tensor) -> Tensor:
    """Area under each curve by the trapezoidal rule over its own x values -> (N,):
    AUC = sum_k (x_{k+1} - x_k) (y_k + y_{k+1}) / 2. ``fractions`` (S,) or (N,S); with x from 0 to 1
    and y in [0, 1] the AUC lies in [0, 1]. Segments with a NaN end (padding) add nothing; a
    curve that is NaN throughout gives NaN."""
    x = fractions.expand_as(curves).to(curves.dtype)
    segments = (x[:, 1:] - x[:, :-1]) * (curves[:, 1:] + curves[:, :-1]) / 2
    auc = torch.nan_to_num(segments, nan=0.0).sum(1)
    return torch.where(torch.isnan(curves).all(1), torch.full_like(auc, math.nan), auc)
