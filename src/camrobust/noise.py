"""Noise catalogue: ImageNet-C corruptions, medical-imaging noises and gradient attacks (SPEC section 5).

Every noise works on x = image / 255 in [0, 1] (float64 for the pixel noises, float32 for the
attacks), clips to [0, 1] and stores ``round(255 x)`` as uint8, rounding half to even
(``torch.round``, the same rule as ``np.rint``).

Randomness is per image: each image draws from its own CPU ``torch.Generator`` keyed by
(namespace, noise, severity, image id, seed) (:func:`camrobust.seeding.torch_generator`), so
its output never depends on the batch size, the device or the job split. The arithmetic runs
batched in torch on the chosen device; only the random draws are made image by image, and the
corruptions built on scipy / PIL / sequential loops (glass_blur's swaps, fog's and frost's
fractals, elastic_transform, pixelate, spatter, jpeg_compression) run image by image on the CPU.

Definitions and severity tables are ImageNet-C's (Hendrycks & Dietterich 2019, 224 px; the
``imagecorruptions`` package's Wand-free motion blur); rician_noise and poisson_gaussian_noise
have their own tables and references. ``NOISES`` maps each name to a :class:`NoiseSpec`; a
caller may replace a severity's parameter with ``params`` (one value, or a whole table).
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Literal

import numba
import numpy as np
import scipy.ndimage
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from camrobust.devices import resolve_device
from camrobust.seeding import torch_generator

ParamValue = float | tuple[float, ...]
Generators = Sequence[torch.Generator]
Forward = Callable[[Tensor], Tensor]

GAUSSIAN_BLUR_MODE = "nearest"  # skimage.filters.gaussian's default border, as imagecorruptions
DEFOCUS_MODE = "mirror"  # OpenCV's BORDER_REFLECT_101 (filter2D / GaussianBlur default)
GAUSSIAN_TRUNCATE = 4.0  # kernel half-width in sigmas, as scipy.ndimage.gaussian_filter
GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma, as cv2.COLOR_RGB2GRAY
FROST_MEAN = (0.523, 0.609, 0.653)  # per-channel mean and std of ImageNet-C's six frost photographs
FROST_STD = (0.238, 0.199, 0.200)  # (pixels pooled, each photograph weighted equally)
FROST_DECAY = 1.6  # wibble decay of the texture's plasma fractal: fine crystalline detail
FROST_SHARPNESS = 3.0  # exponent on the ridges: thin bright veins
WATER_COLOUR = (175 / 255, 238 / 255, 238 / 255)
MUD_COLOUR = (63 / 255, 42 / 255, 20 / 255)
SPATTER_RELIEF = ((-2.0, -1.0, 0.0), (-1.0, 1.0, 1.0), (0.0, 1.0, 2.0))
PGD_STEPS = 10
PGD_STEP_SIZE = 2.5 / PGD_STEPS  # step = 2.5 eps / steps


# ---------------------------------------------------------------- per-image random draws


def _standard_normal(x: Tensor, generators: Generators) -> Tensor:
    """N(0, 1) values shaped like x, each image's drawn from its own (CPU) generator."""
    draws = torch.empty(x.shape, dtype=x.dtype)
    for image, generator in zip(draws, generators, strict=True):
        image.normal_(generator=generator)
    return draws.to(x.device)


def _uniform(shape: tuple[int, ...], generators: Generators, like: Tensor) -> Tensor:
    """U[0, 1) values of shape (N, *shape), each image's drawn from its own (CPU) generator."""
    draws = torch.empty((len(generators), *shape), dtype=like.dtype)
    for image, generator in zip(draws, generators, strict=True):
        image.uniform_(generator=generator)
    return draws.to(like.device)


def _draw_uniform(generator: torch.Generator, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    """U[low, high) float64 values of ``shape`` from one image's generator, as numpy."""
    return torch.empty(shape, dtype=torch.float64).uniform_(low, high, generator=generator).numpy()


def _draw_normal(generator: torch.Generator, shape: tuple[int, ...], mean: float, std: float) -> np.ndarray:
    """N(mean, std) float64 values of ``shape`` from one image's generator, as numpy."""
    return torch.empty(shape, dtype=torch.float64).normal_(mean, std, generator=generator).numpy()


# ---------------------------------------------------------------- pixel noises


def gaussian_noise(x: Tensor, sigma: float, generators: Generators) -> Tensor:
    """Additive Gaussian noise: ``x + N(0, sigma)``; sigma .08 .12 .18 .26 .38 (severity 1..5)."""
    return x + sigma * _standard_normal(x, generators)


def shot_noise(x: Tensor, c: float, generators: Generators) -> Tensor:
    """Poisson (shot) noise: ``Poisson(x c) / c`` (variance x / c); c 60 25 12 5 3.

    The Poisson draws need the rates on the CPU (where the generators live).
    """
    rates = (x * c).cpu()
    counts = torch.stack([torch.poisson(rate, generator=g) for rate, g in zip(rates, generators, strict=True)])
    return counts.to(x.device) / c


def impulse_noise(x: Tensor, amount: float, generators: Generators) -> Tensor:
    """Salt & pepper on each channel value (``skimage.util.random_noise`` 's&p' semantics).

    Each value is replaced with probability ``amount``, by 1 (salt) or 0 (pepper) with equal
    probability; amount .03 .06 .09 .17 .27.
    """
    uniforms = _uniform((2, *x.shape[1:]), generators, x)
    replaced = uniforms[:, 0] < amount
    salt = (uniforms[:, 1] < 0.5).to(x.dtype)
    return torch.where(replaced, salt, x)


def speckle_noise(x: Tensor, sigma: float, generators: Generators) -> Tensor:
    """Multiplicative speckle: ``x + x N(0, sigma)`` (variance x^2 sigma^2); sigma .15 .2 .35 .45 .6."""
    return x + x * (sigma * _standard_normal(x, generators))


def gaussian_blur(x: Tensor, sigma: float, generators: Generators) -> Tensor:
    """Gaussian filter per channel, ``skimage.filters.gaussian(x, sigma, channel_axis=-1)``.

    Separable weights ``exp(-t^2 / (2 sigma^2))`` normalised, t in [-r, r], r = int(4 sigma + 0.5),
    border 'nearest' (edge value repeated; skimage's default, used by imagecorruptions);
    sigma 1 2 3 4 6.
    """
    weights = torch.from_numpy(_gaussian_weights(sigma)).to(x)
    return _correlate(x, torch.outer(weights, weights), GAUSSIAN_BLUR_MODE)


def defocus_blur(x: Tensor, radius_alias: tuple[float, float], generators: Generators) -> Tensor:
    """Defocus: each channel correlated with :func:`defocus_kernel` (radius, alias_blur).

    Border 'mirror' (OpenCV BORDER_REFLECT_101, as ``cv2.filter2D``);
    (radius, alias) (3, .1) (4, .5) (6, .5) (8, .5) (10, .5).
    """
    kernel = torch.tensor(defocus_kernel(*radius_alias), dtype=x.dtype, device=x.device)
    return _correlate(x, kernel, DEFOCUS_MODE)


def jpeg_compression(x: Tensor, quality: int, generators: Generators) -> Tensor:
    """JPEG round trip with PIL at ``quality`` (default settings otherwise); quality 25 18 15 10 7.

    Runs image by image on the CPU.
    """
    pixels = _to_uint8(x).cpu().numpy()
    decoded = np.stack([_jpeg_round_trip(image, int(quality)) for image in pixels])
    return torch.from_numpy(decoded).to(x) / 255


def brightness(x: Tensor, c: float, generators: Generators) -> Tensor:
    """Brightness: RGB -> HSV (``skimage.color.rgb2hsv``), ``V = clip(V + c, 0, 1)``, back to RGB.

    c .1 .2 .3 .4 .5. On a grey pixel this is ``x + c``.
    """
    hue, saturation, value = _rgb_to_hsv(x)
    return _hsv_to_rgb(hue, saturation, (value + c).clamp(0.0, 1.0))


def contrast(x: Tensor, c: float, generators: Generators) -> Tensor:
    """Contrast: ``(x - m) c + m``, m the per-image per-channel spatial mean; c .4 .3 .2 .1 .05."""
    means = x.mean(dim=(1, 2), keepdim=True)
    return (x - means) * c + means


def motion_blur(x: Tensor, radius_sigma: tuple[float, float], generators: Generators) -> Tensor:
    """Motion blur along a random angle a ~ U(-45, 45) degrees (ImageMagick's, as ImageNet-C).

    One-sided line kernel: tap i = 0..2r (r = radius) weighs ``exp(-i^2 / (2 sigma^2))``
    (normalised) and reads the pixel ``i`` steps back along a, rounded to the grid
    (``imagecorruptions``' port of Wand's ``motion_blur``), edge pixels repeated;
    (radius, sigma) (10, 3) (15, 5) (15, 8) (15, 12) (20, 15), in pixels at any image size.
    """
    radius, sigma = radius_sigma
    angles = [_draw_uniform(g, (), -45.0, 45.0).item() for g in generators]
    return torch.stack([_motion_blur_image(image, radius, sigma, a) for image, a in zip(x, angles)])


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
        total += _clipped_zoom(x, float(factor))
    return total / (len(factors) + 1)


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


def snow(x: Tensor, params: tuple[float, ...], generators: Generators) -> Tensor:
    """Snow (ImageNet-C): a motion-blurred flake layer added twice (once rotated 180 degrees).

    Layer ``L ~ N(mean, std)`` per pixel, centre-zoomed by ``zoom`` (as :func:`zoom_blur`), set
    to 0 below ``threshold``, clipped to [0, 1] and floored to 1/255 steps, then
    :func:`motion_blur` (radius, sigma) at an angle U(-135, -45). The image is whitened:
    ``x' = b x + (1 - b) max(x, 1.5 grey + .5)``, grey = .299 R + .587 G + .114 B; result
    ``x' + L + rot180(L)``. (mean, std, zoom, threshold, radius, sigma, b)
    (.1, .3, 3, .5, 10, 4, .8) (.2, .3, 2, .5, 12, 4, .7) (.55, .3, 4, .9, 12, 8, .7)
    (.55, .3, 4.5, .85, 12, 8, .65) (.55, .3, 2.5, .85, 12, 12, .55).
    """
    mean, std, zoom, threshold, radius, sigma, keep = params
    flakes = torch.stack([torch.from_numpy(_draw_normal(g, tuple(x.shape[1:3]), mean, std)) for g in generators]).to(x)
    flakes = _clipped_zoom(flakes[..., None], zoom)
    flakes = torch.where(flakes < threshold, 0.0, flakes)
    flakes = torch.floor(flakes.clamp(0.0, 1.0) * 255) / 255
    angles = [_draw_uniform(g, (), -135.0, -45.0).item() for g in generators]
    layer = torch.stack([_motion_blur_image(f, radius, sigma, a) for f, a in zip(flakes, angles)])
    grey = (x * torch.tensor(GREY_WEIGHTS, dtype=x.dtype, device=x.device)).sum(-1, keepdim=True)
    whitened = keep * x + (1 - keep) * torch.maximum(x, grey * 1.5 + 0.5)
    return whitened + layer + layer.flip(1, 2)


def frost(x: Tensor, a_b: tuple[float, float], generators: Generators) -> Tensor:
    """Frost: ``a x + b T``, T a procedural frost texture (:func:`frost_texture`) per image.

    (a, b) (1, .4) (.8, .6) (.7, .7) (.65, .7) (.6, .75) (ImageNet-C). ImageNet-C crops one of
    its frost photographs; T is drawn instead, with their colour statistics.
    """
    a, b = a_b
    height, width = x.shape[1:3]
    textures = torch.stack([torch.from_numpy(frost_texture(height, width, g)) for g in generators]).to(x)
    return a * x + b * textures


def fog(x: Tensor, amount_decay: tuple[float, float], generators: Generators) -> Tensor:
    """Fog: ``(x + c P) m / (m + c)``, P a plasma fractal in [0, 1] (wibble decay d), m = max x.

    P is drawn on the smallest power-of-two square covering the image (256 at 224 px, as
    ImageNet-C) and cropped, so its structure scales with the image; m is the image's maximum
    over pixels and channels. (c, d) (1.5, 2) (2, 2) (2.5, 1.7) (2.5, 1.5) (3, 1.4).
    """
    amount, decay = amount_decay
    height, width = x.shape[1:3]
    size = 1 << (max(height, width) - 1).bit_length()
    fractals = torch.stack([torch.from_numpy(plasma_fractal(size, decay, g)[:height, :width]) for g in generators]).to(
        x
    )
    peak = x.amax(dim=(1, 2, 3), keepdim=True)
    return (x + amount * fractals[..., None]) * peak / (peak + amount)


def elastic_transform(x: Tensor, params: tuple[float, float, float], generators: Generators) -> Tensor:
    """Random affine then elastic warp (ImageNet-C), bilinear, computed per image on the CPU.

    With s the shorter image side, (alpha, sigma, shift) = s (f_alpha, f_sigma, f_shift): the
    three points ``centre + (+-q, +-q)`` (q = s // 3) move by U(-shift, shift) each and define
    the affine (mirrored border); then pixel (r, c) reads ``(r + dy, c + dx)`` (reflected
    border), dx, dy = alpha gaussian_filter(U(-1, 1), sigma, truncate 3, 'reflect').
    (f_alpha, f_sigma, f_shift) (2, .7, .1) (2, .08, .2) (.05, .01, .02) (.07, .01, .02)
    (.12, .01, .02): ImageNet-C's factors, which its code multiplies by 244 for 224 px images
    (a slip it notes); here by s, so at 224 px the values are 224 f (corrupt-tta's).
    """
    return _per_image(x, generators, lambda image, g: _elastic_image(image, params, g))


def pixelate(x: Tensor, c: float, generators: Generators) -> Tensor:
    """PIL box-filter resize of the uint8 image to ``int(c w) x int(c h)`` and back to w x h.

    c .6 .5 .4 .3 .25 (relative: scales with the image). Runs image by image on the CPU.
    """
    pixels = _to_uint8(x).cpu().numpy()
    height, width = pixels.shape[1:3]
    small = (int(width * c), int(height * c))
    decoded = np.stack(
        [
            np.asarray(
                Image.fromarray(p).resize(small, Image.Resampling.BOX).resize((width, height), Image.Resampling.BOX)
            )
            for p in pixels
        ]
    )
    return torch.from_numpy(decoded).to(x) / 255


def saturate(x: Tensor, scale_shift: tuple[float, float], generators: Generators) -> Tensor:
    """Saturation: RGB -> HSV (as :func:`brightness`), ``S = clip(S k + d, 0, 1)``, back to RGB.

    (k, d) (.3, 0) (.1, 0) (2, 0) (5, .1) (20, .2).
    """
    scale, shift = scale_shift
    hue, saturation, value = _rgb_to_hsv(x)
    return _hsv_to_rgb(hue, (saturation * scale + shift).clamp(0.0, 1.0), value)


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
    return _per_image(x, generators, lambda image, g: _spatter_image(image, params, g))


def rician_noise(x: Tensor, sigma: float, generators: Generators) -> Tensor:
    """Rician noise of magnitude MRI: ``|x + n1 + i n2|``, n1, n2 ~ N(0, sigma) per channel value.

    The magnitude of a complex signal with Gaussian noise in both channels (Gudbjartsson & Patz
    1995, Magn. Reson. Med. 34:910). sigma as a fraction of the full scale:

    ======== ==== ==== ==== ==== ====
    severity 1    2    3    4    5
    sigma    .03  .06  .09  .12  .15
    ======== ==== ==== ==== ==== ====

    3-15 %, the range of the BrainWeb and MRI denoising benchmarks (Manjon et al. 2010).
    """
    real = x + sigma * _standard_normal(x, generators)
    imaginary = sigma * _standard_normal(x, generators)
    return torch.hypot(real, imaginary)


def poisson_gaussian_noise(x: Tensor, photons_read: tuple[float, float], generators: Generators) -> Tensor:
    """Poisson-Gaussian noise of low-dose X-ray / CT detectors: ``Poisson(N x) / N + N(0, s)``.

    N photons at full scale (quantum noise, variance x / N) plus Gaussian read noise of std s
    (Foi et al. 2008, IEEE Trans. Image Process. 17:1737), per channel value:

    ======== ==== ==== ==== ==== ====
    severity 1    2    3    4    5
    N        200  100  50   25   10
    s        .01  .02  .03  .04  .05
    ======== ==== ==== ==== ==== ====

    At x = .5 the noise std is .051 .073 .104 .147 .229.
    """
    photons, read = photons_read
    return shot_noise(x, photons, generators) + read * _standard_normal(x, generators)


# ---------------------------------------------------------------- attacks (pixel space)


def fgsm(forward: Forward, x: Tensor, targets: Tensor, eps: float, generators: Generators) -> Tensor:
    """FGSM: ``clip(x + eps sign(grad_x CE(f(x), y)), 0, 1)``; eps (1 2 4 8 16) / 255.

    y is the class to move away from (the clean prediction unless labels are given).
    """
    step = eps * _loss_gradient(forward, x, targets).sign()
    return (x + step).clamp(0.0, 1.0)


def pgd(forward: Forward, x: Tensor, targets: Tensor, eps: float, generators: Generators) -> Tensor:
    """L-inf PGD: start ``x + U(-eps, eps)`` (per-image generator), then 10 steps of
    ``x' <- clip(proj_eps(x' + a sign(grad_x' CE(f(x'), y))), 0, 1)`` with a = 2.5 eps / 10;
    eps (1 2 4 8 16) / 255.
    """
    start = _uniform(x.shape[1:], generators, x)
    adversarial = (x + eps * (2 * start - 1)).clamp(0.0, 1.0)
    low, high = x - eps, x + eps
    for _ in range(PGD_STEPS):
        gradient = _loss_gradient(forward, adversarial, targets)
        adversarial = adversarial + PGD_STEP_SIZE * eps * gradient.sign()
        adversarial = torch.minimum(torch.maximum(adversarial, low), high).clamp(0.0, 1.0)
    return adversarial


def _loss_gradient(forward: Forward, x: Tensor, targets: Tensor) -> Tensor:
    """Gradient of the summed cross-entropy w.r.t. the input only (no parameter .grad)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        loss = F.cross_entropy(forward(x), targets, reduction="sum")
        (gradient,) = torch.autograd.grad(loss, x)
    return gradient


# ---------------------------------------------------------------- registry


def _finite_non_negative(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value) and value >= 0


def _finite_positive(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value) and value > 0


def _finite(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value)


def _probability(value: Any) -> bool:
    return _is_number(value) and 0 <= value <= 1


def _jpeg_quality(value: Any) -> bool:
    return _is_number(value) and float(value).is_integer() and 0 <= value <= 100


def _radius_alias(value: Any) -> bool:
    if not (isinstance(value, tuple) and len(value) == 2 and all(map(_finite_positive, value))):
        return False
    radius = value[0]
    return radius <= 8 or float(radius).is_integer()  # else imagecorruptions' grid has even size


def _numbers(*checks: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """A tuple of len(checks) numbers, each passing its check."""

    def valid(value: Any) -> bool:
        return (
            isinstance(value, tuple)
            and len(value) == len(checks)
            and all(_is_number(v) and check(v) for v, check in zip(value, checks))
        )

    return valid


def _positive_integer(value: Any) -> bool:
    return _finite_positive(value) and float(value).is_integer()


def _non_negative_integer(value: Any) -> bool:
    return _finite_non_negative(value) and float(value).is_integer()


def _above_one(value: Any) -> bool:
    return _finite(value) and value > 1


def _at_least_one(value: Any) -> bool:
    return _finite(value) and value >= 1


def _fraction(value: Any) -> bool:
    return _finite_positive(value) and value <= 1


def _mode(value: Any) -> bool:
    return value in (0, 1)


@dataclass(frozen=True)
class NoiseSpec:
    """One noise type: its kind, parameter per severity 1..n, function and parameter rule.

    ``fn(x, parameter, generators)`` for a pixel noise: x float64 (N, H, W, 3) in [0, 1], one
    CPU generator per image, returns the noisy x before clipping. ``fn(forward, x, targets, eps,
    generators)`` for an attack: x float32 (N, 3, H, W) in [0, 1], ``forward`` normalises and
    runs the model, returns the adversarial x.
    """

    kind: Literal["pixel", "attack"]
    params: tuple[ParamValue, ...]
    fn: Callable[..., Tensor]
    rule: str = "a finite number >= 0"
    valid: Callable[[Any], bool] = _finite_non_negative


NOISES: dict[str, NoiseSpec] = {
    "gaussian_noise": NoiseSpec("pixel", (0.08, 0.12, 0.18, 0.26, 0.38), gaussian_noise, "sigma >= 0"),
    "shot_noise": NoiseSpec("pixel", (60, 25, 12, 5, 3), shot_noise, "c > 0", _finite_positive),
    "impulse_noise": NoiseSpec(
        "pixel", (0.03, 0.06, 0.09, 0.17, 0.27), impulse_noise, "amount in [0, 1]", _probability
    ),
    "speckle_noise": NoiseSpec("pixel", (0.15, 0.2, 0.35, 0.45, 0.6), speckle_noise, "sigma >= 0"),
    "gaussian_blur": NoiseSpec("pixel", (1, 2, 3, 4, 6), gaussian_blur, "sigma > 0", _finite_positive),
    "defocus_blur": NoiseSpec(
        "pixel",
        ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)),
        defocus_blur,
        "(radius, alias_blur), both > 0, radius an integer above 8",
        _radius_alias,
    ),
    "jpeg_compression": NoiseSpec(
        "pixel", (25, 18, 15, 10, 7), jpeg_compression, "integer quality in 0..100", _jpeg_quality
    ),
    "brightness": NoiseSpec("pixel", (0.1, 0.2, 0.3, 0.4, 0.5), brightness, "c finite", _finite),
    "contrast": NoiseSpec("pixel", (0.4, 0.3, 0.2, 0.1, 0.05), contrast, "c >= 0"),
    "motion_blur": NoiseSpec(
        "pixel",
        ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)),
        motion_blur,
        "(radius, sigma), both > 0",
        _numbers(_finite_positive, _finite_positive),
    ),
    "zoom_blur": NoiseSpec(
        "pixel",
        ((1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03)),
        zoom_blur,
        "(stop > 1, step > 0)",
        _numbers(_above_one, _finite_positive),
    ),
    "glass_blur": NoiseSpec(
        "pixel",
        ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)),
        glass_blur,
        "(sigma > 0, integer delta >= 1, integer iterations >= 0)",
        _numbers(_finite_positive, _positive_integer, _non_negative_integer),
    ),
    "snow": NoiseSpec(
        "pixel",
        (
            (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
            (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
            (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
            (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
            (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
        ),
        snow,
        "(mean, std >= 0, zoom >= 1, threshold, radius > 0, sigma > 0, blend in [0, 1])",
        _numbers(
            _finite, _finite_non_negative, _at_least_one, _finite, _finite_positive, _finite_positive, _probability
        ),
    ),
    "frost": NoiseSpec(
        "pixel",
        ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)),
        frost,
        "(a, b), both >= 0",
        _numbers(_finite_non_negative, _finite_non_negative),
    ),
    "fog": NoiseSpec(
        "pixel",
        ((1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4)),
        fog,
        "(amount >= 0, wibble decay > 0)",
        _numbers(_finite_non_negative, _finite_positive),
    ),
    "elastic_transform": NoiseSpec(
        "pixel",
        ((2, 0.7, 0.1), (2, 0.08, 0.2), (0.05, 0.01, 0.02), (0.07, 0.01, 0.02), (0.12, 0.01, 0.02)),
        elastic_transform,
        "(alpha >= 0, sigma > 0, shift >= 0) as fractions of the image side",
        _numbers(_finite_non_negative, _finite_positive, _finite_non_negative),
    ),
    "pixelate": NoiseSpec("pixel", (0.6, 0.5, 0.4, 0.3, 0.25), pixelate, "c in (0, 1]", _fraction),
    "saturate": NoiseSpec(
        "pixel",
        ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)),
        saturate,
        "(scale >= 0, shift finite)",
        _numbers(_finite_non_negative, _finite),
    ),
    "spatter": NoiseSpec(
        "pixel",
        (
            (0.65, 0.3, 4, 0.69, 0.6, 0),
            (0.65, 0.3, 3, 0.68, 0.6, 0),
            (0.65, 0.3, 2, 0.68, 0.5, 0),
            (0.65, 0.3, 1, 0.65, 1.5, 1),
            (0.67, 0.4, 1, 0.65, 1.5, 1),
        ),
        spatter,
        "(mean, std >= 0, sigma > 0, threshold, strength >= 0, mode 0 (water) or 1 (mud))",
        _numbers(_finite, _finite_non_negative, _finite_positive, _finite, _finite_non_negative, _mode),
    ),
    "rician_noise": NoiseSpec("pixel", (0.03, 0.06, 0.09, 0.12, 0.15), rician_noise, "sigma >= 0"),
    "poisson_gaussian_noise": NoiseSpec(
        "pixel",
        ((200, 0.01), (100, 0.02), (50, 0.03), (25, 0.04), (10, 0.05)),
        poisson_gaussian_noise,
        "(photons > 0, read noise std >= 0)",
        _numbers(_finite_positive, _finite_non_negative),
    ),
    "fgsm": NoiseSpec("attack", tuple(e / 255 for e in (1, 2, 4, 8, 16)), fgsm, "eps >= 0"),
    "pgd": NoiseSpec("attack", tuple(e / 255 for e in (1, 2, 4, 8, 16)), pgd, "eps >= 0"),
}
PIXEL_NOISES: tuple[str, ...] = tuple(name for name, spec in NOISES.items() if spec.kind == "pixel")
ATTACKS: tuple[str, ...] = tuple(name for name, spec in NOISES.items() if spec.kind == "attack")


def severity_parameter(noise: str, severity: int, params: Any = None) -> ParamValue:
    """The parameter ``noise`` uses at ``severity`` (1-based).

    ``params`` overrides the table: one value (a number; a (radius, alias_blur) pair for
    defocus_blur) replaces the parameter of whatever severity is asked, a sequence of values is
    a whole table (severity then runs 1..len(table)).
    """
    spec = _spec(noise)
    single = params is not None and _is_single_value(spec, params)
    table = spec.params if params is None or single else tuple(params)
    if isinstance(severity, bool) or not isinstance(severity, Integral) or not 1 <= severity <= len(table):
        raise ValueError(f"{noise}: severity {severity!r} is out of range; allowed 1..{len(table)}")
    value = _as_value(spec, params if single else table[int(severity) - 1])
    if not spec.valid(value):
        raise ValueError(f"{noise}: parameter {value!r} (severity {severity}) is invalid; expected {spec.rule}")
    return value


def _spec(noise: str) -> NoiseSpec:
    if noise not in NOISES:
        raise ValueError(f"unknown noise {noise!r}; allowed: {', '.join(NOISES)}")
    return NOISES[noise]


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_single_value(spec: NoiseSpec, params: Any) -> bool:
    if isinstance(spec.params[0], tuple):
        return isinstance(params, Sequence) and all(_is_number(item) for item in params)
    return _is_number(params)


def _as_value(spec: NoiseSpec, value: Any) -> ParamValue:
    return tuple(value) if isinstance(spec.params[0], tuple) and isinstance(value, Sequence) else value


# ---------------------------------------------------------------- public entry points


@dataclass(frozen=True)
class AttackResult:
    """Adversarial images uint8 (N, H, W, 3), clean and adversarial predictions int64 (N,).

    ``adv_pred`` is the prediction on the stored (uint8-rounded) adversarial image.
    """

    images: np.ndarray
    clean_pred: np.ndarray
    adv_pred: np.ndarray


def perturb(
    images: np.ndarray,
    noise: str,
    severity: int,
    seed: int,
    ids: Sequence[str],
    *,
    namespace: str = "",
    params: Any = None,
    device: torch.device | str | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """Apply a model-free noise at ``severity`` to uint8 images (N, H, W, 3); returns uint8.

    Image i's randomness comes from (namespace, noise, severity, ids[i], seed) alone.
    ``device`` (default CPU) runs the arithmetic; ``batch_size`` bounds memory only.
    """
    spec = _spec(noise)
    if spec.kind == "attack":
        raise ValueError(
            f"noise {noise!r} is an adversarial attack and needs a model; "
            f"call camrobust.noise.attack(model, ...) instead (perturb() takes: {', '.join(PIXEL_NOISES)})"
        )
    _check_batch(images, ids, batch_size)
    value = severity_parameter(noise, severity, params)
    target = torch.device("cpu") if device is None else resolve_device(str(device))
    noisy = np.empty_like(images)
    for start in range(0, len(images), batch_size):
        chunk = slice(start, start + batch_size)
        x = torch.tensor(np.ascontiguousarray(images[chunk]), dtype=torch.float64, device=target) / 255
        generators = _generators(namespace, noise, severity, seed, ids[chunk])
        noisy[chunk] = _to_uint8(spec.fn(x, value, generators)).cpu().numpy()
    return noisy


def attack(
    model: nn.Module,
    images: np.ndarray,
    noise: str,
    severity: int,
    seed: int,
    ids: Sequence[str],
    *,
    mean: Sequence[float],
    std: Sequence[float],
    namespace: str = "",
    targets: np.ndarray | Sequence[int] | None = None,
    batch_size: int = 32,
    device: torch.device | str | None = None,
    params: Any = None,
) -> AttackResult:
    """Untargeted gradient attack (fgsm / pgd) in pixel space [0, 1], rounded to uint8.

    The model sees ``(x - mean) / std`` per channel and runs in eval mode (its train/eval mode
    is restored afterwards); the attack moves away from ``targets`` (default: the clean
    prediction). ``device`` defaults to the device of the model's parameters.
    """
    spec = _spec(noise)
    if spec.kind != "attack":
        raise ValueError(
            f"noise {noise!r} needs no model; call camrobust.noise.perturb() (attack() takes: {', '.join(ATTACKS)})"
        )
    _check_batch(images, ids, batch_size)
    labels = _check_targets(targets, len(images))
    eps = severity_parameter(noise, severity, params)
    target = _model_device(model) if device is None else resolve_device(str(device))
    forward = _normalised_forward(model, mean, std, target)
    adversarial = np.empty_like(images)
    clean_pred = np.empty(len(images), dtype=np.int64)
    adv_pred = np.empty(len(images), dtype=np.int64)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(images), batch_size):
            chunk = slice(start, start + batch_size)
            x = _to_unit_nchw(torch.tensor(np.ascontiguousarray(images[chunk]), device=target))
            with torch.no_grad():
                predicted = forward(x).argmax(dim=1)
            away_from = predicted if labels is None else labels[chunk].to(target)
            generators = _generators(namespace, noise, severity, seed, ids[chunk])
            stored = _to_uint8(spec.fn(forward, x, away_from, eps, generators))
            with torch.no_grad():
                adv_pred[chunk] = forward(_to_unit_nchw(stored.permute(0, 2, 3, 1))).argmax(dim=1).cpu().numpy()
            clean_pred[chunk] = predicted.cpu().numpy()
            adversarial[chunk] = stored.permute(0, 2, 3, 1).cpu().numpy()
    finally:
        model.train(was_training)
    return AttackResult(adversarial, clean_pred, adv_pred)


def success_rate(result: AttackResult) -> float:
    """Fraction of images whose prediction the attack changed (adv_pred != clean_pred)."""
    if len(result.clean_pred) == 0:
        raise ValueError("success_rate: the attack result holds no images")
    return float(np.mean(result.adv_pred != result.clean_pred))


# ---------------------------------------------------------------- helpers


def _check_batch(images: Any, ids: Sequence[str], batch_size: int) -> None:
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        kind = images.dtype if isinstance(images, np.ndarray) else type(images).__name__
        raise ValueError(f"images: expected a uint8 numpy array (N, H, W, 3), got {kind}")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images: expected shape (N, H, W, 3) with 3 RGB channels, got {images.shape}")
    if len(ids) != len(images):
        raise ValueError(f"ids: got {len(ids)} ids for {len(images)} images")
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")


def _check_targets(targets: np.ndarray | Sequence[int] | None, count: int) -> Tensor | None:
    if targets is None:
        return None
    labels = torch.as_tensor(np.asarray(targets))
    if labels.shape != (count,) or labels.is_floating_point():
        raise ValueError(
            f"targets: expected {count} integer class indices, got shape {tuple(labels.shape)} {labels.dtype}"
        )
    return labels.long()


def _generators(namespace: str, noise: str, severity: int, seed: int, ids: Sequence[str]) -> list[torch.Generator]:
    return [torch_generator(namespace, noise, int(severity), str(image_id), int(seed)) for image_id in ids]


def _to_uint8(x: Tensor) -> Tensor:
    """``round(255 clip(x, 0, 1))`` as uint8, half to even."""
    return torch.round(x.clamp(0.0, 1.0) * 255).to(torch.uint8)


def _to_unit_nchw(images: Tensor) -> Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [0, 1]."""
    return images.permute(0, 3, 1, 2).to(torch.float32) / 255


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device


def luminance(x: Tensor) -> Tensor:
    """(N, 3, H, W) RGB -> (N, 1, H, W) luma with the :data:`GREY_WEIGHTS`."""
    weights = torch.tensor(GREY_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def _normalised_forward(model: nn.Module, mean: Sequence[float], std: Sequence[float], device: torch.device) -> Forward:
    """x (N, 3, H, W) in [0, 1] -> model((x - mean) / std); one mean/std value feeds the luminance."""
    channels = len(mean)
    if channels not in (1, 3) or len(std) != channels or any(s <= 0 for s in std):
        raise ValueError(
            f"mean/std: expected 3 (or 1, for luminance) per-channel values with std > 0, got mean={mean!r} std={std!r}"
        )
    mean_t = torch.tensor(mean, dtype=torch.float32, device=device).view(1, channels, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=device).view(1, channels, 1, 1)
    if channels == 1:
        return lambda x: model((luminance(x) - mean_t) / std_t)
    return lambda x: model((x - mean_t) / std_t)


def _gaussian_weights(sigma: float) -> np.ndarray:
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


def _correlate(x: Tensor, kernel: Tensor, mode: str) -> Tensor:
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


def _per_image(x: Tensor, generators: Generators, fn: Callable[[np.ndarray, torch.Generator], np.ndarray]) -> Tensor:
    """Apply a numpy ``fn(image (H, W, 3), generator)`` image by image on the CPU."""
    images = x.cpu().numpy()
    return torch.from_numpy(np.stack([fn(image, g) for image, g in zip(images, generators, strict=True)])).to(x)


def _shift_index(size: int, offset: int, device: torch.device) -> Tensor:
    """Source index of each position when an axis is shifted by ``offset``, edge repeated."""
    return (torch.arange(size, device=device) - offset).clamp(0, size - 1)


def _motion_blur_image(image: Tensor, radius: float, sigma: float, angle: float) -> Tensor:
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


def _clipped_zoom(x: Tensor, factor: float) -> Tensor:
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
        return total / 4 + wibble * _draw_uniform(generator, total.shape, -wibble, wibble)

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


def frost_texture(height: int, width: int, generator: torch.Generator) -> np.ndarray:
    """Procedural frost (H, W, 3) in [0, 1]: ridged plasma fractal with ImageNet-C's frost colours.

    ``R = (1 - |2 P - 1|)^FROST_SHARPNESS``, P = :func:`plasma_fractal` (decay FROST_DECAY) on the
    power-of-two square covering the image, cropped: bright veins where P crosses its middle.
    Channel c is ``FROST_MEAN[c] + FROST_STD[c] z``, z = R standardised (zero mean, unit std),
    clipped to [0, 1].
    """
    size = 1 << (max(height, width) - 1).bit_length()
    fractal = plasma_fractal(size, FROST_DECAY, generator)[:height, :width]
    ridges = (1 - np.abs(2 * fractal - 1)) ** FROST_SHARPNESS
    z = (ridges - ridges.mean()) / ridges.std()
    return np.clip(np.asarray(FROST_MEAN) + np.asarray(FROST_STD) * z[..., None], 0.0, 1.0)


def _affine_matrix(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2 x 3 affine A with ``A [p, 1] = q`` for three point pairs (cv2.getAffineTransform)."""
    return np.linalg.solve(np.hstack([source, np.ones((3, 1))]), target).T


def _elastic_image(image: np.ndarray, factors: tuple[float, float, float], generator: torch.Generator) -> np.ndarray:
    """One image through :func:`elastic_transform`."""
    height, width = image.shape[:2]
    side = min(height, width)
    alpha, sigma, shift = (f * side for f in factors)
    centre = np.array([height, width], dtype=np.float64) // 2
    square = side // 3
    points = np.array([centre + square, [centre[0] + square, centre[1] - square], centre - square])
    moved = points + _draw_uniform(generator, (3, 2), -shift, shift)
    inverse = _affine_matrix(moved, points)  # target (x, y) -> source (x, y), as cv2.warpAffine
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    source_x = inverse[0, 0] * cols + inverse[0, 1] * rows + inverse[0, 2]
    source_y = inverse[1, 0] * cols + inverse[1, 1] * rows + inverse[1, 2]
    warped = _sample(image, source_y, source_x, "mirror")
    dx, dy = (
        alpha
        * scipy.ndimage.gaussian_filter(
            _draw_uniform(generator, (height, width), -1, 1), sigma, mode="reflect", truncate=3
        )
        for _ in range(2)
    )
    return _sample(warped, rows + dy, cols + dx, "reflect")


def _sample(image: np.ndarray, rows: np.ndarray, cols: np.ndarray, mode: str) -> np.ndarray:
    """Bilinear samples of each channel of (H, W, C) at (rows, cols)."""
    return np.stack(
        [scipy.ndimage.map_coordinates(image[..., c], [rows, cols], order=1, mode=mode) for c in range(image.shape[2])],
        axis=-1,
    )


def _equalize_hist(image: np.ndarray) -> np.ndarray:
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


def _box3(image: np.ndarray) -> np.ndarray:
    """3 x 3 mean (cv2.blur's default: mirrored border)."""
    return scipy.ndimage.uniform_filter(image, 3, mode="mirror")


def _spatter_image(image: np.ndarray, params: tuple[float, ...], generator: torch.Generator) -> np.ndarray:
    """One image through :func:`spatter`."""
    mean, std, sigma, threshold, strength, mode = params
    liquid = _draw_normal(generator, image.shape[:2], mean, std)
    liquid = scipy.ndimage.gaussian_filter(liquid, sigma, mode="nearest")
    liquid[liquid < threshold] = 0
    if mode == 0:
        wet = liquid > 0
        outline = wet & ~scipy.ndimage.binary_erosion(wet, border_value=1)
        distance = np.minimum(scipy.ndimage.distance_transform_edt(~outline), 20.0)
        shading = _equalize_hist(np.floor(_box3(distance)).astype(np.uint8)).astype(np.float64)
        relief = scipy.ndimage.correlate(shading, np.array(SPATTER_RELIEF), mode="mirror")
        shading = _box3(np.rint(relief).clip(0, 255))
        drops = np.floor(liquid * 255) * shading  # ImageNet-C shades the uint8 layer
        drops = strength * drops / drops.max() if drops.max() > 0 else drops
        return image + drops[..., None] * np.asarray(WATER_COLOUR)
    mud = scipy.ndimage.gaussian_filter((liquid > threshold).astype(np.float64), strength, mode="nearest")
    mud[mud < 0.8] = 0
    return image * (1 - mud[..., None]) + mud[..., None] * np.asarray(MUD_COLOUR)


def _jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"))


def _rgb_to_hsv(rgb: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``skimage.color.rgb2hsv`` on (..., 3), same operations (blue beats green beats red on ties)."""
    red, green, blue = rgb.unbind(-1)
    value = rgb.amax(dim=-1)
    delta = value - rgb.amin(dim=-1)
    grey = delta == 0
    safe_delta = torch.where(grey, torch.ones_like(delta), delta)
    saturation = torch.where(grey, torch.zeros_like(delta), delta / torch.where(grey, torch.ones_like(value), value))
    hue = (green - blue) / safe_delta
    hue = torch.where(green == value, 2.0 + (blue - red) / safe_delta, hue)
    hue = torch.where(blue == value, 4.0 + (red - green) / safe_delta, hue)
    hue = hue / 6.0
    hue = torch.where(hue < 0, hue + 1.0, hue)  # numpy's % 1.0
    return torch.where(grey, torch.zeros_like(hue), hue), saturation, value


def _hsv_to_rgb(hue: Tensor, saturation: Tensor, value: Tensor) -> Tensor:
    """``skimage.color.hsv2rgb``: sector i = floor(6 h) mod 6, f = 6 h - floor(6 h)."""
    sector_floor = torch.floor(hue * 6)
    f = hue * 6 - sector_floor
    p = value * (1 - saturation)
    q = value * (1 - f * saturation)
    t = value * (1 - (1 - f) * saturation)
    v = value
    candidates = torch.stack(
        [
            torch.stack(channels, dim=-1)
            for channels in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))
        ],
        dim=-2,
    )  # (..., 6, 3)
    sector = (sector_floor.long() % 6)[..., None, None].expand(*sector_floor.shape, 1, 3)
    return candidates.gather(-2, sector).squeeze(-2)
