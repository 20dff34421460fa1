"""Digital corruptions: ImageNet-C's JPEG compression, brightness, contrast, elastic transform,
pixelate and saturate.

Definitions and severity tables are ImageNet-C's (Hendrycks & Dietterich 2019, 224 px).
Brightness, contrast and saturate run batched in torch (skimage's HSV conversions, rebuilt);
the JPEG round trip and pixelate (PIL) and elastic_transform (scipy) run image by image on the
CPU.
"""

from __future__ import annotations

import io

import numpy as np
import scipy.ndimage
import torch
from PIL import Image
from torch import Tensor

from camrobust.noise.draws import Generators, draw_uniform
from camrobust.noise.pixels import per_image, per_uint8_image
from camrobust.noise.severity import finite, fraction, noise_type, non_negative, number, numbers, positive


@noise_type(
    params=(25, 18, 15, 10, 7),
    rule="integer quality in 0..100",
    valid=number(lambda quality: float(quality).is_integer() and 0 <= quality <= 100),
)
def jpeg_compression(x: Tensor, quality: int, generators: Generators) -> Tensor:
    """JPEG round trip with PIL at ``quality`` (default settings otherwise); quality 25 18 15 10 7.

    Runs image by image on the CPU.
    """
    return per_uint8_image(x, lambda image: _jpeg_round_trip(image, int(quality)))


@noise_type(params=(0.1, 0.2, 0.3, 0.4, 0.5), rule="c finite", valid=finite)
def brightness(x: Tensor, c: float, generators: Generators) -> Tensor:
    """Brightness: RGB -> HSV (``skimage.color.rgb2hsv``), ``V = clip(V + c, 0, 1)``, back to RGB.

    c .1 .2 .3 .4 .5. On a grey pixel this is ``x + c``.
    """
    hue, saturation, value = _rgb_to_hsv(x)
    return _hsv_to_rgb(hue, saturation, (value + c).clamp(0.0, 1.0))


@noise_type(params=(0.4, 0.3, 0.2, 0.1, 0.05), rule="c >= 0")
def contrast(x: Tensor, c: float, generators: Generators) -> Tensor:
    """Contrast: ``(x - m) c + m``, m the per-image per-channel spatial mean; c .4 .3 .2 .1 .05."""
    means = x.mean(dim=(1, 2), keepdim=True)
    return (x - means) * c + means


@noise_type(
    params=((2, 0.7, 0.1), (2, 0.08, 0.2), (0.05, 0.01, 0.02), (0.07, 0.01, 0.02), (0.12, 0.01, 0.02)),
    rule="(alpha >= 0, sigma > 0, shift >= 0) as fractions of the image side",
    valid=numbers(non_negative, positive, non_negative),
)
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
    return per_image(x, generators, lambda image, g: _elastic_image(image, params, g))


@noise_type(params=(0.6, 0.5, 0.4, 0.3, 0.25), rule="c in (0, 1]", valid=fraction)
def pixelate(x: Tensor, c: float, generators: Generators) -> Tensor:
    """PIL box-filter resize of the uint8 image to ``int(c w) x int(c h)`` and back to w x h.

    c .6 .5 .4 .3 .25 (relative: scales with the image). Runs image by image on the CPU.
    """
    height, width = x.shape[1:3]
    small = (int(width * c), int(height * c))

    def pixelated(image: np.ndarray) -> np.ndarray:
        box = Image.Resampling.BOX
        return np.asarray(Image.fromarray(image).resize(small, box).resize((width, height), box))

    return per_uint8_image(x, pixelated)


@noise_type(
    params=((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)),
    rule="(scale >= 0, shift finite)",
    valid=numbers(non_negative, finite),
)
def saturate(x: Tensor, scale_shift: tuple[float, float], generators: Generators) -> Tensor:
    """Saturation: RGB -> HSV (as :func:`brightness`), ``S = clip(S k + d, 0, 1)``, back to RGB.

    (k, d) (.3, 0) (.1, 0) (2, 0) (5, .1) (20, .2).
    """
    scale, shift = scale_shift
    hue, saturation, value = _rgb_to_hsv(x)
    return _hsv_to_rgb(hue, (saturation * scale + shift).clamp(0.0, 1.0), value)


# ---------------------------------------------------------------- helpers


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
    moved = points + draw_uniform(generator, (3, 2), -shift, shift)
    inverse = _affine_matrix(moved, points)  # target (x, y) -> source (x, y), as cv2.warpAffine
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    source_x = inverse[0, 0] * cols + inverse[0, 1] * rows + inverse[0, 2]
    source_y = inverse[1, 0] * cols + inverse[1, 1] * rows + inverse[1, 2]
    warped = _sample(image, source_y, source_x, "mirror")
    dx, dy = (
        alpha
        * scipy.ndimage.gaussian_filter(
            draw_uniform(generator, (height, width), -1, 1), sigma, mode="reflect", truncate=3
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
