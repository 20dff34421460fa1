"""Model-free noises against their definitions (the docstrings of camrobust.noise), reproducibility, bad input."""

from __future__ import annotations

import io
import math

import cv2
import numpy as np
import pytest
import scipy.ndimage
import torch
from PIL import Image
from scipy.stats import norm, poisson
from skimage import color

from camrobust.noise import (
    ATTACKS,
    EXPLANATION_ATTACKS,
    NOISES,
    PIXEL_NOISES,
    defocus_kernel,
    perturb,
    severity_parameter,
)

torch.set_num_threads(1)  # tiny tensors: one thread avoids oversubscription

SEVERITIES = (1, 2, 3, 4, 5)
GREY = 128
RANDOM_NOISES = ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "uniform_noise")
ROUNDING_VARIANCE = 1 / (12 * 255**2)  # uniform rounding error of one 1/255 step
# Moment tolerances follow from the sample size, not from a run: a flat 64 px image gives
# n = 64 * 64 * 3 = 12,288 values; a sample std has relative standard error 1 / sqrt(2n) = 0.64%,
# a sample variance sqrt((2 + excess kurtosis) / n) <= 1.5% (Poisson at c = 3: kurtosis 1 / 1.5).
# rel 0.03 (std) and 0.06 (variance) are about 4.7 and 4 standard errors; means use 4-5 SE directly.


def flat(value: int = GREY, size: int = 64) -> np.ndarray:
    """One (1, size, size, 3) image of a single grey level."""
    return np.full((1, size, size, 3), value, dtype=np.uint8)


def textured(n: int = 3, size: int = 32, seed: int = 0) -> np.ndarray:
    """Smooth random colour images (N, size, size, 3) uint8."""
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, (n, size, size, 3)).astype(np.float64)
    return np.rint(scipy.ndimage.gaussian_filter(raw, (0, 1.5, 1.5, 0)) * 2 - 128).clip(0, 255).astype(np.uint8)


def image_ids(n: int, start: int = 0) -> list[str]:
    return [f"{i:06d}" for i in range(start, start + n)]


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8)


def residual(out: np.ndarray, value: int = GREY) -> np.ndarray:
    return (out.astype(np.float64) - value).ravel() / 255


def clipped_normal_moments(sigma: float, low: float, high: float) -> tuple[float, float]:
    """Mean and variance of clip(Z, low, high), Z ~ N(0, sigma) (censored normal, closed form)."""
    a, b = low / sigma, high / sigma
    mean = low * norm.cdf(a) + high * norm.sf(b) + sigma * (norm.pdf(a) - norm.pdf(b))
    second = (
        low**2 * norm.cdf(a)
        + high**2 * norm.sf(b)
        + sigma**2 * (norm.cdf(b) - norm.cdf(a) + a * norm.pdf(a) - b * norm.pdf(b))
    )
    return mean, second - mean**2


# ---------------------------------------------------------------- definitions


@pytest.mark.parametrize("severity", SEVERITIES)
def test_gaussian_noise_residual_has_the_severity_sigma(severity: int) -> None:
    sigma = NOISES["gaussian_noise"].params[severity - 1]
    out = perturb(flat(), "gaussian_noise", severity, seed=0, ids=["a"])
    x = GREY / 255
    mean, variance = clipped_normal_moments(sigma, -x, 1 - x)
    expected_std = math.sqrt(variance + ROUNDING_VARIANCE)
    assert residual(out).std() == pytest.approx(expected_std, rel=0.03)
    assert residual(out).mean() == pytest.approx(mean, abs=4 * expected_std / math.sqrt(out.size))
    if severity == 1:  # clipping is negligible at sigma .08 on mid-grey
        assert residual(out).std() == pytest.approx(sigma, rel=0.03)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_shot_noise_variance_is_x_over_c(severity: int) -> None:
    c = NOISES["shot_noise"].params[severity - 1]
    out = perturb(flat(), "shot_noise", severity, seed=1, ids=["a"])
    x = GREY / 255
    counts = np.arange(0, 400)
    stored = np.rint(np.minimum(counts / c, 1) * 255) / 255  # clip and rounding, exact
    weights = poisson.pmf(counts, x * c)
    mean = np.sum(weights * stored)
    variance = np.sum(weights * (stored - mean) ** 2)
    assert out.astype(np.float64).ravel().var() / 255**2 == pytest.approx(variance, rel=0.06)
    assert out.mean() / 255 == pytest.approx(mean, abs=4 * math.sqrt(variance / out.size))
    if severity <= 2:  # unclipped: Var = x / c
        assert residual(out).var() == pytest.approx(x / c, rel=0.06)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_impulse_noise_replaces_the_stated_fraction(severity: int) -> None:
    amount = NOISES["impulse_noise"].params[severity - 1]
    out = perturb(flat(), "impulse_noise", severity, seed=2, ids=["a"]).ravel()
    changed = out != GREY
    n = out.size
    assert changed.mean() == pytest.approx(amount, abs=5 * math.sqrt(amount * (1 - amount) / n))
    assert set(np.unique(out[changed])) <= {0, 255}
    salt = (out[changed] == 255).mean()
    assert salt == pytest.approx(0.5, abs=5 * math.sqrt(0.25 / changed.sum()))


@pytest.mark.parametrize("severity", SEVERITIES)
def test_speckle_noise_variance_is_x2_sigma2(severity: int) -> None:
    sigma = NOISES["speckle_noise"].params[severity - 1]
    out = perturb(flat(), "speckle_noise", severity, seed=3, ids=["a"])
    x = GREY / 255
    _, variance = clipped_normal_moments(x * sigma, -x, 1 - x)
    assert residual(out).std() == pytest.approx(math.sqrt(variance + ROUNDING_VARIANCE), rel=0.03)
    if severity == 1:
        assert residual(out).std() == pytest.approx(x * sigma, rel=0.03)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_uniform_noise_stays_within_its_budget_with_the_rounded_uniform_law(severity: int) -> None:
    """255 x is an integer on a flat image, so the stored residual is d = round(v), v ~ U[-e, e)
    (e = 1, 2, 4, 8, 16): P(d = k) = 1 / (2e) for |k| < e and 1 / (4e) for k = -e, e, hence
    |d| <= e (the L-inf budget holds after rounding), E d = 0 and
    Var d = (e - 1)(2e - 1) / 6 + e / 2."""
    e = round(255 * NOISES["uniform_noise"].params[severity - 1])
    d = residual(perturb(flat(), "uniform_noise", severity, seed=5, ids=["a"])) * 255
    variance = (e - 1) * (2 * e - 1) / 6 + e / 2
    assert np.abs(d).max() == e
    assert d.mean() == pytest.approx(0.0, abs=5 * math.sqrt(variance / d.size))
    assert d.var() == pytest.approx(variance, rel=0.06)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_contrast_equals_closed_form(severity: int) -> None:
    c = NOISES["contrast"].params[severity - 1]
    images = textured()
    x = images / 255
    means = x.mean(axis=(1, 2), keepdims=True)
    expected = to_uint8((x - means) * c + means)
    np.testing.assert_array_equal(perturb(images, "contrast", severity, 0, image_ids(3)), expected)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_brightness_on_grey_is_x_plus_c(severity: int) -> None:
    c = NOISES["brightness"].params[severity - 1]
    levels = np.array([0, 30, GREY, 200, 255], dtype=np.uint8)
    images = np.broadcast_to(levels[:, None, None, None], (5, 8, 8, 3)).copy()
    expected = to_uint8(images / 255 + c)
    np.testing.assert_array_equal(perturb(images, "brightness", severity, 0, image_ids(5)), expected)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_brightness_equals_skimage_hsv_round_trip(severity: int) -> None:
    c = NOISES["brightness"].params[severity - 1]
    images = textured()
    expected = []
    for image in images:
        hsv = color.rgb2hsv(image / 255)
        hsv[..., 2] = np.clip(hsv[..., 2] + c, 0, 1)
        expected.append(to_uint8(color.hsv2rgb(hsv)))
    np.testing.assert_array_equal(perturb(images, "brightness", severity, 0, image_ids(3)), np.stack(expected))


@pytest.mark.parametrize("severity", SEVERITIES)
def test_jpeg_compression_equals_pil_round_trip(severity: int) -> None:
    quality = NOISES["jpeg_compression"].params[severity - 1]
    images = textured()
    expected = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        expected.append(np.asarray(Image.open(io.BytesIO(buffer.getvalue()))))
    out = perturb(images, "jpeg_compression", severity, 0, image_ids(3))
    np.testing.assert_array_equal(out, np.stack(expected))
    assert not np.array_equal(out, images)


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("size", [32, 20])  # 20 px: the sigma-6 kernel (radius 24) is wider than the image
def test_gaussian_blur_equals_scipy_per_channel(severity: int, size: int) -> None:
    sigma = NOISES["gaussian_blur"].params[severity - 1]
    images = textured(size=size)
    x = images / 255
    reference = np.empty_like(x)
    for i in range(len(x)):
        for channel in range(3):  # skimage.filters.gaussian's default border is 'nearest'
            reference[i, ..., channel] = scipy.ndimage.gaussian_filter(x[i, ..., channel], sigma, mode="nearest")
    out = perturb(images, "gaussian_blur", severity, 0, image_ids(3))
    np.testing.assert_array_equal(out, to_uint8(reference))


def direct_defocus_kernel(radius: float, alias: float) -> np.ndarray:
    """imagecorruptions' disk(): aliased disk, normalised, then a 3x3 (5x5 above radius 8)
    Gaussian of sigma alias with reflect-101 border, summed out loop by loop."""
    grid = np.arange(-8, 9) if radius <= 8 else np.arange(-radius, radius + 1)
    xx, yy = np.meshgrid(grid, grid)
    disk = (xx**2 + yy**2 <= radius**2).astype(np.float64)
    disk /= disk.sum()
    half = 1 if radius <= 8 else 2
    offsets = np.arange(-half, half + 1)
    weights = np.exp(-(offsets**2) / (2 * alias**2))
    weights /= weights.sum()
    padded = np.pad(disk, half, mode="reflect")  # numpy 'reflect' = reflect-101
    size = len(grid)
    kernel = np.zeros_like(disk)
    for i, di in enumerate(offsets):
        for j, dj in enumerate(offsets):
            kernel += weights[i] * weights[j] * padded[half + di : half + di + size, half + dj : half + dj + size]
    return kernel


@pytest.mark.parametrize("severity", SEVERITIES)
def test_defocus_kernel_is_the_smoothed_disk(severity: int) -> None:
    radius, alias = NOISES["defocus_blur"].params[severity - 1]
    kernel = defocus_kernel(radius, alias)
    np.testing.assert_allclose(kernel, direct_defocus_kernel(radius, alias), rtol=0, atol=1e-12)
    if radius < 8:  # a disk reaching the grid edge gains weight from the mirrored border
        assert kernel.sum() == pytest.approx(1.0, abs=1e-12)
    grid = np.arange(-8, 9) if radius <= 8 else np.arange(-radius, radius + 1)
    xx, yy = np.meshgrid(grid, grid)
    disk = ((xx**2 + yy**2) <= radius**2).astype(np.float32)
    opencv = cv2.GaussianBlur(disk / disk.sum(), (3, 3) if radius <= 8 else (5, 5), alias)
    # OpenCV computes in float32: relative rounding 6e-8 per step on entries below 0.04.
    np.testing.assert_allclose(kernel, opencv, rtol=0, atol=1e-7)


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("size", [32, 12])  # 12 px: the kernel is wider than the image
def test_defocus_blur_equals_disk_convolution(severity: int, size: int) -> None:
    radius, alias = NOISES["defocus_blur"].params[severity - 1]
    kernel = direct_defocus_kernel(radius, alias)
    images = textured(size=size)
    x = images / 255
    reference = np.empty_like(x)
    for i in range(len(x)):
        for channel in range(3):  # cv2.filter2D's default border is reflect-101 = scipy 'mirror'
            reference[i, ..., channel] = scipy.ndimage.correlate(x[i, ..., channel], kernel, mode="mirror")
    out = perturb(images, "defocus_blur", severity, 0, image_ids(3))
    np.testing.assert_array_equal(out, to_uint8(reference))


def test_clipping_saturates_instead_of_wrapping() -> None:
    sigma = NOISES["gaussian_noise"].params[4]
    white = perturb(flat(255), "gaussian_noise", 5, 0, ["w"]).ravel()
    black = perturb(flat(0), "gaussian_noise", 5, 0, ["b"]).ravel()
    n = white.size
    saturated = norm.cdf(0.5 / 255 / sigma)  # the upper half plus what rounds back up to 255
    assert (white == 255).mean() == pytest.approx(saturated, abs=5 * math.sqrt(0.25 / n))
    assert (black == 0).mean() == pytest.approx(saturated, abs=5 * math.sqrt(0.25 / n))
    assert white.min() > 255 - 6 * sigma * 255 and black.max() < 6 * sigma * 255
    bright = perturb(flat(250, 8), "brightness", 5, 0, ["x"])
    assert (bright == 255).all()


# ---------------------------------------------------------------- parameters


def test_severity_parameter_tables_and_overrides() -> None:
    assert severity_parameter("gaussian_noise", 3) == 0.18
    assert severity_parameter("defocus_blur", 2) == (4, 0.5)
    assert severity_parameter("fgsm", 4) == pytest.approx(8 / 255)
    assert severity_parameter("gaussian_noise", 3, params=0.2) == 0.2
    assert severity_parameter("defocus_blur", 5, params=(2, 0.3)) == (2, 0.3)
    table = (0.01, 0.02, 0.03, 0.04, 0.05, 0.5)
    assert severity_parameter("gaussian_noise", 6, params=table) == 0.5
    assert severity_parameter("defocus_blur", 1, params=[(1, 0.1), (2, 0.2)]) == (1, 0.1)
    with pytest.raises(ValueError, match=r"gaussian_noise.*severity 7.*1\.\.6"):
        severity_parameter("gaussian_noise", 7, params=table)
    with pytest.raises(ValueError, match=r"shot_noise.*parameter -1.*c > 0"):
        severity_parameter("shot_noise", 1, params=-1)
    with pytest.raises(ValueError, match=r"jpeg_compression.*parameter 7\.5"):
        severity_parameter("jpeg_compression", 1, params=7.5)
    with pytest.raises(ValueError, match=r"defocus_blur.*\(10\.5, 0\.5\).*integer above 8"):
        severity_parameter("defocus_blur", 1, params=(10.5, 0.5))


def test_perturb_params_override_replaces_sigma() -> None:
    out = perturb(flat(), "gaussian_noise", 3, 0, ["a"], params=0.02)
    assert residual(out).std() == pytest.approx(math.sqrt(0.02**2 + ROUNDING_VARIANCE), rel=0.03)


def test_registry_lists_all_twenty_five_types() -> None:
    assert PIXEL_NOISES == (
        "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "gaussian_blur",
        "defocus_blur", "jpeg_compression", "brightness", "contrast", "motion_blur", "zoom_blur",
        "glass_blur", "snow", "frost", "fog", "elastic_transform", "pixelate", "saturate",
        "spatter", "rician_noise", "poisson_gaussian_noise", "uniform_noise",
    )  # fmt: skip
    assert ATTACKS == ("fgsm", "pgd")
    assert EXPLANATION_ATTACKS == ("explanation_attack",)
    assert all(len(spec.params) == 5 for spec in NOISES.values())


# ---------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("noise", PIXEL_NOISES)
def test_output_independent_of_batch_size_and_job_split(noise: str) -> None:
    images, ids = textured(9, 16, seed=4), image_ids(9)
    whole = perturb(images, noise, 3, 11, ids, namespace="shapes", batch_size=7)
    single = perturb(images, noise, 3, 11, ids, namespace="shapes", batch_size=1)
    split = np.concatenate(
        [
            perturb(images[:4], noise, 3, 11, ids[:4], namespace="shapes"),
            perturb(images[4:], noise, 3, 11, ids[4:], namespace="shapes"),
        ]
    )
    np.testing.assert_array_equal(whole, single)
    np.testing.assert_array_equal(whole, split)
    np.testing.assert_array_equal(whole[::-1], perturb(images[::-1], noise, 3, 11, ids[::-1], namespace="shapes"))
    np.testing.assert_array_equal(
        whole[[6, 2]], perturb(images[[6, 2]], noise, 3, 11, [ids[6], ids[2]], namespace="shapes")
    )


@pytest.mark.parametrize("noise", RANDOM_NOISES)
def test_random_draws_are_keyed_by_namespace_seed_severity_and_id(noise: str) -> None:
    images = np.concatenate([flat(size=16)] * 2)
    base = perturb(images, noise, 3, 0, ["a", "b"])
    assert not np.array_equal(base[0], base[1])  # same pixels, different ids
    assert np.array_equal(base, perturb(images, noise, 3, 0, ["a", "b"]))
    assert not np.array_equal(base, perturb(images, noise, 3, 1, ["a", "b"]))
    assert not np.array_equal(base, perturb(images, noise, 3, 0, ["a", "b"], namespace="other"))
    # the severity keys the draws even when the parameter is overridden to the same value
    same_value = NOISES[noise].params[2]
    assert not np.array_equal(base, perturb(images, noise, 4, 0, ["a", "b"], params=same_value))


# ---------------------------------------------------------------- bad input


def test_bad_images_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"images.*uint8.*float64"):
        perturb(flat().astype(np.float64), "gaussian_noise", 1, 0, ["a"])
    with pytest.raises(ValueError, match=r"images.*3 RGB channels.*\(1, 8, 8, 4\)"):
        perturb(np.zeros((1, 8, 8, 4), np.uint8), "gaussian_noise", 1, 0, ["a"])
    with pytest.raises(ValueError, match=r"images.*\(8, 8, 3\)"):
        perturb(np.zeros((8, 8, 3), np.uint8), "gaussian_noise", 1, 0, ["a"])
    with pytest.raises(ValueError, match=r"ids.*2 ids for 1 images"):
        perturb(flat(), "gaussian_noise", 1, 0, ["a", "b"])


def test_unknown_noise_lists_the_allowed_names() -> None:
    with pytest.raises(ValueError, match=r"unknown noise 'haze'.*gaussian_noise.*contrast.*fog.*pgd"):
        perturb(flat(), "haze", 1, 0, ["a"])


@pytest.mark.parametrize("severity", [0, 6])
def test_severity_outside_1_to_5_is_rejected(severity: int) -> None:
    with pytest.raises(ValueError, match=rf"gaussian_noise.*severity {severity}.*1\.\.5"):
        perturb(flat(), "gaussian_noise", severity, 0, ["a"])


@pytest.mark.parametrize("noise", ATTACKS)
def test_perturb_on_an_attack_points_to_attack(noise: str) -> None:
    with pytest.raises(ValueError, match=rf"'{noise}'.*needs a model.*attack\(model"):
        perturb(flat(), noise, 1, 0, ["a"])
