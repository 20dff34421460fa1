"""Blurs: ImageNet-C's Gaussian, defocus, motion, zoom and glass blur.

Definitions and severity tables are ImageNet-C's (Hendrycks & Dietterich 2019, 224 px) as the
``imagecorruptions`` package computes them (its Wand-free motion blur). The filters run batched
in torch on the images' device (FFT correlation, index-based borders); glass_blur's pixel swaps
run image by image on the CPU.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numba
import numpy as np
import scipy.ndimage
import torch
import torch.nn.functional as F
from torch import Tensor

from camrobust.noise.draws import Generators, uniform_scalars
from camrobust.noise.severity import above_one, noise_type, non_negative_integer, numbers, positive, positive_integer

GAUSSIAN_BLUR_MODE = "nearest"  # skimage.filters.gaussian's default border, as imagecorruptions
DEFOCUS_MODE = "mirror"  # OpenCV's BORDER_REFLECT_101 (filter2D / GaussianBlur default)
GAUSSIAN_TRUNCATE = 4.0  # kernel half-width in sigmas, as scipy.ndimage.gaussian_filter


@noise_type(params=(1, 2, 3, 4, 6), rule="sigma > 0", valid=positive)
def gaussian_blur(x: Tensor, sigma: float, generators: Generators) -> Tensor:
    """Gaussian filter per channel, ``skimage.filters.gaussian(x, sigma, channel_axis=-1)``.

    Separable weights ``exp(-t^2 / (2 sigma^2))`` normalised, t in [-r, r], r = int(4 sigma + 0.5),
    border 'nearest' (edge value repeated; skimage's default, used by imagecorruptions);
    sigma 1 2 3 4 6.
    """
    weights = torch.from_numpy(gaussian_weights(sigma)).to(x)
    return correlate(x, torch.outer(weights, weights), GAUSSIAN_BLUR_MODE)


def _radius_alias(value: Any) -> bool:
    if not numbers(positive, positive)(value):
        return False
    radius = value[0]
    return radius <= 8 or float(radius).is_integer()  # else imagecorruptions' grid has even size


@noise_type(
    params=((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)),
    rule="(radius, alias_blur), both > 0, radius an integer above 8",
    valid=_radius_alias,
)
def defocus_blur(x: Tensor, radius_alias: tuple[float, float], generators: Generators) -> Tensor:
    """Defocus: each channel correlated with :func:`defocus_kernel` (radius, alias_blur).

    Border 'mirror' (OpenCV BORDER_REFLECT_101, as ``cv2.filter2D``);
    (radius, alias) (3, .1) (4, .5) (6, .5) (8, .5) (10, .5).
    """
    kernel = torch.tensor(defocus_kernel(*radius_alias), dtype=x.dtype, device=x.device)
    return correlate(x, kernel, DEFOCUS_MODE)


@noise_type(
    params=((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)),
    rule="(radius, sigma), both > 0",
    valid=numbers(positive, positive),
)
def motion_blur(x: Tensor, radius_sigma: tuple[float, float], generators: Generators) -> Tensor:
    """Motion blur along a random angle a ~ U(-45, 45) degrees (ImageMagick's, as ImageNet-C).

    One-sided line kernel: tap i = 0..2r (r = radius) weighs ``exp(-i^2 / (2 sigma^2))``
    (normalised) and reads the pixel ``i`` steps back along a, rounded to the grid
    (``imagecorruptions``' port of Wand's ``motion_blur``), edge pixels repeated;
    (radius, sigma) (10, 3) (15, 5) (15, 8) (15, 12) (20, 15), in pixels at any image size.
    """
    radius, sigma = radius_sigma
    return motion_blur_images(x, radius, sigma, uniform_scalars(generators, -45.0, 45.0))


@noise_type(
    params=((1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03)),
    rule="(stop > 1, step > 0)",
    valid=numbers(above_one, positive),
)
def zoom_blur(x: Tensor, zoom_range: tuple[float, float], generators: Generators) -> Tensor:
    """Mean of x and its centre zooms by each factor in ``arange(1, stop, step)``.

    A zoom crops the centre ``ceil(side / z)`` and resizes it bilinearly (corner-aligned, as
    ``scipy.ndimage.zoom(order=1)``) to ``round(crop z)``, keeping the centre ``side``; zooms are
    relative, so they scale with the image. (stop, step) (1.11, .01) (1.16, .01) (1.21, .02)
    (1.26, .02) (1.31, .03).
    """
    stop, step = zoom_range
    factors = np.arange(1, stop, step)
    total = x.clone()
    for factor in factors:
        total += clipped_zoom(x, float(factor))
    return total / (len(factors) + 1)


@noise_type(
    params=((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)),
    rule="(sigma > 0, integer delta >= 1, integer iterations >= 0)",
    valid=numbers(positive, positive_integer, non_negative_integer),
)
def glass_blur(x: Tensor, sigma_delta_iterations: tuple[float, float, float], generators: Generators) -> Tensor:
    """Gaussian blur, local pixel shuffling, Gaussian blur again (ImageNet-C).

    ``gaussian_blur(sigma)`` floored to uint8; then, ``iterations`` times, each pixel (rows and
    columns from ``side - delta`` down to ``delta + 1``) swaps with the one offset by
    (dy, dx) ~ U{-delta..delta-1}^2; then ``gaussian_blur(sigma)``. (sigma, delta, iterations)
    (.7, 1, 2) (.9, 2, 1) (1, 2, 3) (1.1, 3, 2) (1.5, 4, 2), in pixels at any image size.
    """
    sigma, delta, iterations = sigma_delta_iterations
    blurred = torch.floor(gaussian_blur(x, sigma, generators).clamp(0.0, 1.0) * 255).to(torch.uint8).cpu().numpy()
    for image, generator in zip(blurred, generators, strict=True):
        rows, cols = image.shape[:2]
        shifts = torch.randint(-int(delta), int(delta), (int(iterations), rows, cols, 2), generator=generator)
        _shuffle_pixels(image, shifts.numpy(), int(delta))
    return gaussian_blur(torch.from_numpy(blurred).to(x) / 255, sigma, generators)


# ---------------------------------------------------------------- kernels and filters


def gaussian_weights(sigma: float) -> np.ndarray:
    """scipy.ndimage's 1-D Gaussian: exp(-t^2 / (2 sigma^2)) / sum, t in [-r, r], r = int(4 sigma + .5)."""
    radius = int(GAUSSIAN_TRUNCATE * sigma + 0.5)
    t = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 / sigma**2 * t**2)
    return weights / weights.sum()


@functools.lru_cache(maxsize=32)
def defocus_kernel(radius: float, alias_blur: float) -> np.ndarray:
    """imagecorruptions' ``disk()`` kernel (float64, read-only: cached).

    The aliased disk ``X^2 + Y^2 <= radius^2`` on the grid ``arange(-8, 9)`` (radius <= 8) or
    ``arange(-radius, radius + 1)``, normalised to sum 1, then smoothed like
    ``cv2.GaussianBlur(ksize=3 (radius <= 8) or 5, sigmaX=alias_blur)``: weights
    ``exp(-t^2 / (2 alias_blur^2))`` normalised, mirrored (reflect-101) border.
    """
    grid = np.arange(-8, 9) if radius <= 8 else np.arange(-radius, radius + 1)
    rows, cols = np.meshgrid(grid, grid)
    disk = (rows**2 + cols**2 <= radius**2).astype(np.float64)
    disk /= disk.sum()
    size = 3 if radius <= 8 else 5
    t = np.arange(size) - (size - 1) / 2
    weights = np.exp(-(t**2) / (2 * alias_blur**2))
    weights /= weights.sum()
    smoothed = scipy.ndimage.correlate1d(disk, weights, axis=0, mode=DEFOCUS_MODE)
    kernel = scipy.ndimage.correlate1d(smoothed, weights, axis=1, mode=DEFOCUS_MODE)
    kernel.setflags(write=False)  # cached: shared by every caller
    return kernel


def _border_index(size: int, pad: int, mode: str, device: torch.device) -> Tensor:
    """Source index of each position of an axis extended by ``pad`` on both sides.

    'nearest' repeats the edge; 'mirror' reflects about the edge pixels (d c b | a b c d | c b a),
    repeating for any pad length (scipy.ndimage's modes of the same names).
    """
    index = torch.arange(-pad, size + pad, device=device)
    if mode == "nearest" or size == 1:
        return index.clamp(0, size - 1)
    period = 2 * (size - 1)
    index = index.remainder(period)
    return torch.where(index >= size, period - index, index)


def correlate(x: Tensor, kernel: Tensor, mode: str) -> Tensor:
    """Correlate each channel of x (N, H, W, C) with an odd-sized kernel (kh, kw), centred.

    The border is filled by index (``mode``); the sum runs as an FFT convolution over the
    padded image, so its cost does not grow with the kernel size.
    """
    height, width = x.shape[1:3]
    kh, kw = kernel.shape
    planes = x.permute(0, 3, 1, 2)
    planes = planes.index_select(2, _border_index(height, kh // 2, mode, x.device))
    planes = planes.index_select(3, _border_index(width, kw // 2, mode, x.device))
    size = planes.shape[-2:]
    spectrum = torch.fft.rfft2(planes) * torch.fft.rfft2(kernel.flip(0, 1), s=size)
    full = torch.fft.irfft2(spectrum, s=size)
    return full[..., kh - 1 : kh - 1 + height, kw - 1 : kw - 1 + width].permute(0, 2, 3, 1)


def _shift_index(size: int, offset: int, device: torch.device) -> Tensor:
    """Source index of each position when an axis is shifted by ``offset``, edge repeated."""
    return (torch.arange(size, device=device) - offset).clamp(0, size - 1)


def motion_blur_image(image: Tensor, radius: float, sigma: float, angle: float) -> Tensor:
    """One (H, W, C) image blurred along ``angle`` degrees (see :func:`motion_blur`)."""
    height, width = image.shape[:2]
    width_taps = int(2 * radius + 1)
    taps = np.arange(width_taps)
    weights = np.exp(-(taps**2) / (2 * sigma**2))
    weights /= weights.sum()
    sin, cos = math.sin(math.radians(angle)), math.cos(math.radians(angle))
    blurred = torch.zeros_like(image)
    for tap, weight in zip(taps, weights):
        dy, dx = -math.ceil(tap * sin - 0.5), -math.ceil(tap * cos - 0.5)
        if abs(dy) >= height or abs(dx) >= width:
            break  # the line left the image
        rows = _shift_index(height, dy, image.device)
        cols = _shift_index(width, dx, image.device)
        blurred += float(weight) * image.index_select(0, rows).index_select(1, cols)
    return blurred


def motion_blur_images(x: Tensor, radius: float, sigma: float, angles: list[float]) -> Tensor:
    """Each image of (N, H, W, C) blurred along its own angle (see :func:`motion_blur_image`)."""
    return torch.stack([motion_blur_image(image, radius, sigma, angle) for image, angle in zip(x, angles)])


def clipped_zoom(x: Tensor, factor: float) -> Tensor:
    """Centre zoom of (N, H, W, C) by ``factor`` >= 1, cropped back to H x W (ImageNet-C's clipped_zoom)."""
    height, width = x.shape[1:3]
    crop_h, crop_w = math.ceil(height / factor), math.ceil(width / factor)
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    crop = x[:, top : top + crop_h, left : left + crop_w].permute(0, 3, 1, 2)
    out_h, out_w = round(crop_h * factor), round(crop_w * factor)
    zoomed = F.interpolate(crop, size=(out_h, out_w), mode="bilinear", align_corners=True)
    trim_top, trim_left = (out_h - height) // 2, (out_w - width) // 2
    return zoomed[..., trim_top : trim_top + height, trim_left : trim_left + width].permute(0, 2, 3, 1)


@numba.njit(cache=True)
def _shuffle_pixels(image: np.ndarray, shifts: np.ndarray, delta: int) -> None:
    """Sequential pixel swaps of :func:`glass_blur`, in place; shifts (iterations, H, W, (dx, dy))."""
    height, width = image.shape[:2]
    for iteration in range(shifts.shape[0]):
        for row in range(height - delta, delta, -1):
            for col in range(width - delta, delta, -1):
                dx, dy = shifts[iteration, row, col, 0], shifts[iteration, row, col, 1]
                other_row, other_col = row + dy, col + dx
                for channel in range(image.shape[2]):
                    value = image[row, col, channel]
                    image[row, col, channel] = image[other_row, other_col, channel]
                    image[other_row, other_col, channel] = value
