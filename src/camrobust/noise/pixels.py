"""Conversions between stored images and the values the noises compute on.

Every noise works on x = image / 255 in [0, 1] and stores ``round(255 x)`` as uint8 after
clipping, rounding half to even (``torch.round``, the rule of ``np.rint``). Noises built on
numpy, scipy or PIL run image by image on the CPU through :func:`per_image` and
:func:`per_uint8_image`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from camrobust.noise.draws import Generators

GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma, as cv2.COLOR_RGB2GRAY


def to_uint8(x: Tensor) -> Tensor:
    """``round(255 clip(x, 0, 1))`` as uint8, half to even."""
    return torch.round(x.clamp(0.0, 1.0) * 255).to(torch.uint8)


def to_unit_nchw(images: Tensor) -> Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [0, 1]."""
    return images.permute(0, 3, 1, 2).to(torch.float32) / 255


def grey(x: Tensor, dim: int) -> Tensor:
    """Luma of RGB values along ``dim`` with the :data:`GREY_WEIGHTS` (that dim kept, size 1)."""
    shape = [1] * x.dim()
    shape[dim] = 3
    weights = torch.tensor(GREY_WEIGHTS, dtype=x.dtype, device=x.device).view(shape)
    return (x * weights).sum(dim, keepdim=True)


def luminance(x: Tensor) -> Tensor:
    """(N, 3, H, W) RGB -> (N, 1, H, W) luma with the :data:`GREY_WEIGHTS`."""
    return grey(x, 1)


def per_image(x: Tensor, generators: Generators, fn: Callable[[np.ndarray, torch.Generator], np.ndarray]) -> Tensor:
    """Apply a numpy ``fn(image (H, W, 3) in [0, 1], generator)`` image by image on the CPU."""
    images = x.cpu().numpy()
    return torch.from_numpy(np.stack([fn(image, g) for image, g in zip(images, generators, strict=True)])).to(x)


def per_uint8_image(x: Tensor, fn: Callable[[np.ndarray], np.ndarray]) -> Tensor:
    """Apply ``fn`` to each image stored as uint8 (H, W, 3) on the CPU; back to [0, 1]."""
    pixels = to_uint8(x).cpu().numpy()
    return torch.from_numpy(np.stack([fn(image) for image in pixels])).to(x) / 255


def normaliser(mean: Sequence[float], std: Sequence[float], device: torch.device) -> Callable[[Tensor], Tensor]:
    """x (N, 3, H, W) in [0, 1] -> ``(x - mean) / std`` per channel, float32 constants on ``device``;
    one mean/std value feeds the luminance (N, 1, H, W). Differentiable."""
    channels = len(mean)
    if channels not in (1, 3) or len(std) != channels or any(s <= 0 for s in std):
        raise ValueError(
            f"mean/std: expected 3 (or 1, for luminance) per-channel values with std > 0, got mean={mean!r} std={std!r}"
        )
    mean_t = torch.tensor(mean, dtype=torch.float32, device=device).view(1, channels, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=device).view(1, channels, 1, 1)
    if channels == 1:
        return lambda x: (luminance(x) - mean_t) / std_t
    return lambda x: (x - mean_t) / std_t
