"""Noise catalogue: ImageNet-C corruptions and gradient attacks (SPEC section 5).

Every noise works on x = image / 255 in [0, 1] (float64 for the pixel noises, float32 for the
attacks), clips to [0, 1] and stores ``round(255 x)`` as uint8, rounding half to even
(``torch.round``, the same rule as ``np.rint``).

Randomness is per image: each image draws from its own CPU ``torch.Generator`` keyed by
(namespace, noise, severity, image id, seed) (:func:`camrobust.seeding.torch_generator`), so
its output never depends on the batch size, the device or the job split. The arithmetic runs
batched in torch on the chosen device; only the random draws are made image by image.

Definitions and severity tables are those of the ``imagecorruptions`` package (Hendrycks &
Dietterich 2019, 224 px ImageNet-C). ``NOISES`` maps each name to a :class:`NoiseSpec`; a
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

import numpy as np
import scipy.ndimage
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from camrobust.devices import resolve_device
from camrobust.seeding import torch_generator

ParamValue = float | tuple[float, float]
Generators = Sequence[torch.Generator]
Forward = Callable[[Tensor], Tensor]

GAUSSIAN_BLUR_MODE = "nearest"  # skimage.filters.gaussian's default border, as imagecorruptions
DEFOCUS_MODE = "mirror"  # OpenCV's BORDER_REFLECT_101 (filter2D / GaussianBlur default)
GAUSSIAN_TRUNCATE = 4.0  # kernel half-width in sigmas, as scipy.ndimage.gaussian_filter
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


# ---------------------------------------------------------------- pixel noises


def gaussian_noise(x: Tensor, sigma: float, generators: Generators) -> Tensor:
    """Additive Gaussian noise: ``x + N(0, sigma)``; sigma .08 .12 .18 .26 .38 (severity 1..5)."""
    return x + sigma * _standard_normal(x, generators)


def shot_noise(x: Tensor, c: float, generators: Generators) -> Tensor:
    """Poisson (shot) noise: ``Poisson(x c) / c`` (variance x / c); c 60 25 12 5 3.

    The Poisson draws need the rates on the CPU (where the generators live).
    """
    rates = (x * c).cpu()
    counts = torch.stack(
        [torch.poisson(rate, generator=g) for rate, g in zip(rates, generators, strict=True)]
    )
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
        raise ValueError(
            f"{noise}: parameter {value!r} (severity {severity}) is invalid; expected {spec.rule}"
        )
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
            f"noise {noise!r} needs no model; call camrobust.noise.perturb() "
            f"(attack() takes: {', '.join(ATTACKS)})"
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
                adv_pred[chunk] = (
                    forward(_to_unit_nchw(stored.permute(0, 2, 3, 1))).argmax(dim=1).cpu().numpy()
                )
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


def _generators(
    namespace: str, noise: str, severity: int, seed: int, ids: Sequence[str]
) -> list[torch.Generator]:
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


def _normalised_forward(
    model: nn.Module, mean: Sequence[float], std: Sequence[float], device: torch.device
) -> Forward:
    if len(mean) != 3 or len(std) != 3 or any(s <= 0 for s in std):
        raise ValueError(
            f"mean/std: expected 3 per-channel values with std > 0, got mean={mean!r} std={std!r}"
        )
    mean_t = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
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
    saturation = torch.where(
        grey, torch.zeros_like(delta), delta / torch.where(grey, torch.ones_like(value), value)
    )
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
