"""Weather: ImageNet-C's snow, frost, fog and spatter.

Definitions and severity tables are ImageNet-C's (Hendrycks & Dietterich 2019, 224 px). Frost
draws a procedural texture instead of cropping one of ImageNet-C's photographs; fog and frost
build on a plasma fractal, and the fractals and spatter's liquid layer are drawn and computed
image by image on the CPU.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage
import torch
from torch import Tensor

from camrobust.noise.blur import clipped_zoom, motion_blur_images
from camrobust.noise.draws import Generators, draw_normal, draw_uniform, uniform_scalars
from camrobust.noise.pixels import grey, per_image
from camrobust.noise.severity import at_least_one, finite, noise_type, non_negative, numbers, positive, probability

FROST_MEAN = (0.523, 0.609, 0.653)  # per-channel mean and std of ImageNet-C's six frost photographs
FROST_STD = (0.238, 0.199, 0.200)  # (pixels pooled, each photograph weighted equally)
FROST_DECAY = 1.6  # wibble decay of the texture's plasma fractal: fine crystalline detail
FROST_SHARPNESS = 3.0  # exponent on the ridges: thin bright veins
WATER_COLOUR = (175 / 255, 238 / 255, 238 / 255)
MUD_COLOUR = (63 / 255, 42 / 255, 20 / 255)
SPATTER_RELIEF = ((-2.0, -1.0, 0.0), (-1.0, 1.0, 1.0), (0.0, 1.0, 2.0))


@noise_type(
    params=(
        (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
        (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
        (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
        (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
        (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
    ),
    rule="(mean, std >= 0, zoom >= 1, threshold, radius > 0, sigma > 0, blend in [0, 1])",
    valid=numbers(finite, non_negative, at_least_one, finite, positive, positive, probability),
)
def snow(x: Tensor, params: tuple[float, ...], generators: Generators) -> Tensor:
    """Snow (ImageNet-C): a motion-blurred flake layer added twice (once rotated 180 degrees).

    Layer ``L ~ N(mean, std)`` per pixel, centre-zoomed by ``zoom`` (as
    :func:`~camrobust.noise.blur.zoom_blur`), set to 0 below ``threshold``, clipped to [0, 1] and
    floored to 1/255 steps, then :func:`~camrobust.noise.blur.motion_blur` (radius, sigma) at an
    angle U(-135, -45). The image is whitened: ``x' = b x + (1 - b) max(x, 1.5 grey + .5)``,
    grey = .299 R + .587 G + .114 B; result ``x' + L + rot180(L)``. (mean, std, zoom, threshold,
    radius, sigma, b) (.1, .3, 3, .5, 10, 4, .8) (.2, .3, 2, .5, 12, 4, .7) (.55, .3, 4, .9, 12,
    8, .7) (.55, .3, 4.5, .85, 12, 8, .65) (.55, .3, 2.5, .85, 12, 12, .55).
    """
    mean, std, zoom, threshold, radius, sigma, keep = params
    flakes = torch.stack([torch.from_numpy(draw_normal(g, tuple(x.shape[1:3]), mean, std)) for g in generators]).to(x)
    flakes = clipped_zoom(flakes[..., None], zoom)
    flakes = torch.where(flakes < threshold, 0.0, flakes)
    flakes = torch.floor(flakes.clamp(0.0, 1.0) * 255) / 255
    layer = motion_blur_images(flakes, radius, sigma, uniform_scalars(generators, -135.0, -45.0))
    whitened = keep * x + (1 - keep) * torch.maximum(x, grey(x, -1) * 1.5 + 0.5)
    return whitened + layer + layer.flip(1, 2)


@noise_type(
    params=((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)),
    rule="(a, b), both >= 0",
    valid=numbers(non_negative, non_negative),
)
def frost(x: Tensor, a_b: tuple[float, float], generators: Generators) -> Tensor:
    """Frost: ``a x + b T``, T a procedural frost texture (:func:`frost_texture`) per image.

    (a, b) (1, .4) (.8, .6) (.7, .7) (.65, .7) (.6, .75) (ImageNet-C). ImageNet-C crops one of
    its frost photographs; T is drawn instead, with their colour statistics.
    """
    a, b = a_b
    height, width = x.shape[1:3]
    textures = torch.stack([torch.from_numpy(frost_texture(height, width, g)) for g in generators]).to(x)
    return a * x + b * textures


@noise_type(
    params=((1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4)),
    rule="(amount >= 0, wibble decay > 0)",
    valid=numbers(non_negative, positive),
)
def fog(x: Tensor, amount_decay: tuple[float, float], generators: Generators) -> Tensor:
    """Fog: ``(x + c P) m / (m + c)``, P a plasma fractal in [0, 1] (wibble decay d), m = max x.

    P is drawn on the smallest power-of-two square covering the image (256 at 224 px, as
    ImageNet-C) and cropped, so its structure scales with the image; m is the image's maximum
    over pixels and channels. (c, d) (1.5, 2) (2, 2) (2.5, 1.7) (2.5, 1.5) (3, 1.4).
    """
    amount, decay = amount_decay
    height, width = x.shape[1:3]
    fractals = torch.stack([torch.from_numpy(_covering_plasma(height, width, decay, g)) for g in generators]).to(x)
    peak = x.amax(dim=(1, 2, 3), keepdim=True)
    return (x + amount * fractals[..., None]) * peak / (peak + amount)


@noise_type(
    params=(
        (0.65, 0.3, 4, 0.69, 0.6, 0),
        (0.65, 0.3, 3, 0.68, 0.6, 0),
        (0.65, 0.3, 2, 0.68, 0.5, 0),
        (0.65, 0.3, 1, 0.65, 1.5, 1),
        (0.67, 0.4, 1, 0.65, 1.5, 1),
    ),
    rule="(mean, std >= 0, sigma > 0, threshold, strength >= 0, mode 0 (water) or 1 (mud))",
    valid=numbers(finite, non_negative, positive, finite, non_negative, lambda mode: mode in (0, 1)),
)
def spatter(x: Tensor, params: tuple[float, ...], generators: Generators) -> Tensor:
    """Spatter (ImageNet-C): water drops (severity 1-3) or mud (4-5), computed per image on the CPU.

    Liquid ``L = gaussian_filter(N(mean, std), sigma)`` ('nearest' border), set to 0 below
    ``threshold``. Water (mode 0): the drops' shading ``D`` is the distance (L2, capped at 20)
    to the drops' outline (the pixels of ``L > 0`` next to ``L = 0``), box-blurred 3x3, floored,
    histogram-equalised (OpenCV's rule), filtered with [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]
    (saturated to 0..255, mirrored border) and box-blurred again; ``m = k L8 D / max(L8 D)``, L8 = floor(255 L);
    result ``x + m (175, 238, 238) / 255`` (pale turquoise). Mud (mode 1): ``m =
    gaussian_filter(L > threshold, k)``, 0 below .8; result ``x (1 - m) + m (63, 42, 20) / 255``.
    (mean, std, sigma, threshold, k, mode) (.65, .3, 4, .69, .6, 0) (.65, .3, 3, .68, .6, 0)
    (.65, .3, 2, .68, .5, 0) (.65, .3, 1, .65, 1.5, 1) (.67, .4, 1, .65, 1.5, 1); ImageNet-C
    finds the outline with ``cv2.Canny`` (thresholds 50, 150), which on this step-edged layer
    marks the same outline up to which side of the step it takes.
    """
    return per_image(x, generators, lambda image, g: _spatter_image(image, params, g))


# ---------------------------------------------------------------- fractals and textures


def plasma_fractal(size: int, wibble_decay: float, generator: torch.Generator) -> np.ndarray:
    """Diamond-square plasma fractal (ImageNet-C's ``plasma_fractal``), size x size in [0, 1].

    Each midpoint is the mean of its four parents plus ``w U(-w, w)``, w = 100 at the coarsest
    step and divided by ``wibble_decay`` at each finer one; the map is then min-max scaled.
    ``size`` is a power of two.
    """
    if size & (size - 1):
        raise ValueError(f"plasma_fractal: size must be a power of two, got {size}")
    grid = np.empty((size, size))
    grid[0, 0] = 0
    step, wibble = size, 100.0

    def wibbled_mean(total: np.ndarray) -> np.ndarray:
        return total / 4 + wibble * draw_uniform(generator, total.shape, -wibble, wibble)

    while step >= 2:
        half = step // 2
        corners = grid[0:size:step, 0:size:step]
        squares = corners + np.roll(corners, shift=-1, axis=0)
        squares += np.roll(squares, shift=-1, axis=1)
        grid[half:size:step, half:size:step] = wibbled_mean(squares)
        centres = grid[half:size:step, half:size:step]
        corners = grid[0:size:step, 0:size:step]
        across = centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1)
        grid[0:size:step, half:size:step] = wibbled_mean(across)
        down = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0)
        grid[half:size:step, 0:size:step] = wibbled_mean(down)
        step //= 2
        wibble /= wibble_decay
    grid -= grid.min()
    return grid / grid.max()


def _covering_plasma(height: int, width: int, wibble_decay: float, generator: torch.Generator) -> np.ndarray:
    """:func:`plasma_fractal` on the smallest power-of-two square covering the image, cropped to it."""
    size = 1 << (max(height, width) - 1).bit_length()
    return plasma_fractal(size, wibble_decay, generator)[:height, :width]


def frost_texture(height: int, width: int, generator: torch.Generator) -> np.ndarray:
    """Procedural frost (H, W, 3) in [0, 1]: ridged plasma fractal with ImageNet-C's frost colours.

    ``R = (1 - |2 P - 1|)^FROST_SHARPNESS``, P = :func:`plasma_fractal` (decay FROST_DECAY) on the
    power-of-two square covering the image, cropped: bright veins where P crosses its middle.
    Channel c is ``FROST_MEAN[c] + FROST_STD[c] z``, z = R standardised (zero mean, unit std),
    clipped to [0, 1].
    """
    fractal = _covering_plasma(height, width, FROST_DECAY, generator)
    ridges = (1 - np.abs(2 * fractal - 1)) ** FROST_SHARPNESS
    z = (ridges - ridges.mean()) / ridges.std()
    return np.clip(np.asarray(FROST_MEAN) + np.asarray(FROST_STD) * z[..., None], 0.0, 1.0)


# ---------------------------------------------------------------- spatter's OpenCV steps


def equalize_hist(image: np.ndarray) -> np.ndarray:
    """OpenCV's ``equalizeHist`` of a uint8 image: lut = round(255 (cdf - h0) / (n - h0)), h0 the
    count of the lowest occupied level."""
    counts = np.bincount(image.ravel(), minlength=256)
    lowest = int(np.flatnonzero(counts)[0])
    if counts[lowest] == image.size:
        return np.full_like(image, lowest)
    cdf = np.cumsum(counts)
    lut = np.rint((cdf - counts[lowest]) * (255 / (image.size - counts[lowest])))
    lut[:lowest] = 0
    return lut.clip(0, 255).astype(np.uint8)[image]


def box3(image: np.ndarray) -> np.ndarray:
    """3 x 3 mean (cv2.blur's default: mirrored border)."""
    return scipy.ndimage.uniform_filter(image, 3, mode="mirror")


def _spatter_image(image: np.ndarray, params: tuple[float, ...], generator: torch.Generator) -> np.ndarray:
    """One image through :func:`spatter`."""
    mean, std, sigma, threshold, strength, mode = params
    liquid = draw_normal(generator, image.shape[:2], mean, std)
    liquid = scipy.ndimage.gaussian_filter(liquid, sigma, mode="nearest")
    liquid[liquid < threshold] = 0
    if mode == 0:
        wet = liquid > 0
        outline = wet & ~scipy.ndimage.binary_erosion(wet, border_value=1)
        distance = np.minimum(scipy.ndimage.distance_transform_edt(~outline), 20.0)
        shading = equalize_hist(np.floor(box3(distance)).astype(np.uint8)).astype(np.float64)
        relief = scipy.ndimage.correlate(shading, np.array(SPATTER_RELIEF), mode="mirror")
        shading = box3(np.rint(relief).clip(0, 255))
        drops = np.floor(liquid * 255) * shading  # ImageNet-C shades the uint8 layer
        drops = strength * drops / drops.max() if drops.max() > 0 else drops
        return image + drops[..., None] * np.asarray(WATER_COLOUR)
    mud = scipy.ndimage.gaussian_filter((liquid > threshold).astype(np.float64), strength, mode="nearest")
    mud[mud < 0.8] = 0
    return image * (1 - mud[..., None]) + mud[..., None] * np.asarray(MUD_COLOUR)
