"""Similarities of a clean and a noisy CAM beside RBO, batched over pairs.

On the regions' importances (mean CAM value per region): Spearman correlation (average ranks
for ties, the rank groups of :mod:`camrobust.scoring.rbo`). On the maps (e = clean CAM,
e' = noisy CAM, maps in [0, 1]): IoU of the top-k pixels, SSIM (Wang et al. 2004, 7x7 uniform
window, data_range 1, as skimage), L1 = mean |e - e'| and sensitivity = ||e - e'||_F / ||e||_F.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import uniform_filter

from camrobust.scoring.rbo import tie_groups
from camrobust.vocabulary import DEFAULT_TOPK

if TYPE_CHECKING:
    import torch

SSIM_WINDOW = 7
SSIM_K1 = 0.01
SSIM_K2 = 0.03
_SSIM_CHUNK = 256


def spearman_scores(importance_a: np.ndarray, importance_b: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Spearman rho per row over the valid items: Pearson correlation of average ranks.

    Average rank = start + (size + 1) / 2 (ties as in :func:`rbo_scores`; equals
    ``scipy.stats.spearmanr`` on the valid items). NaN where a row
    has fewer than 2 valid items, a non-finite valid importance, or a constant importance.
    """
    importance_a = np.asarray(importance_a, dtype=np.float64)
    importance_b = np.asarray(importance_b, dtype=np.float64)
    valid = np.asarray(valid, bool)
    broken = (valid & ~(np.isfinite(importance_a) & np.isfinite(importance_b))).any(axis=1)
    usable = valid & ~broken[:, None]
    n_items = usable.sum(axis=1)
    mean_rank = (n_items + 1) / 2.0
    centred = []
    for importance in (importance_a, importance_b):
        start, size = tie_groups(importance, usable)
        centred.append(np.where(usable, start + (size + 1) / 2.0 - mean_rank[:, None], 0.0))
    covariance = (centred[0] * centred[1]).sum(axis=1)
    spread = np.sqrt((centred[0] ** 2).sum(axis=1) * (centred[1] ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = covariance / spread
    rho[(n_items < 2) | (spread == 0)] = np.nan
    return rho


# --- region importance -----------------------------------------------------------------------


def region_importance(cams: np.ndarray | torch.Tensor, segments: np.ndarray | torch.Tensor, n_max: int) -> np.ndarray:
    """Mean CAM value per region: ``(B, n_max)`` float64, NaN for labels absent from an image.

    importance[b, j] = sum_{pixels q with segments[b, q] = j} cams[b, q] / |region j|.
    """
    sums, counts = region_sums(as_numpy(cams), as_numpy(segments), n_max)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def region_sums(cams: np.ndarray, segments: np.ndarray, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Per image and region label 0..n_max-1: the sum of the CAM over the region and its pixel count."""
    if cams.shape != segments.shape or cams.ndim != 3:
        raise ValueError(f"cams and segments must share one (B, H, W) shape, got {cams.shape} and {segments.shape}")
    if segments.size and (segments.min() < 0 or segments.max() >= n_max):
        raise ValueError(
            f"segment labels must lie in 0..n_max-1 = 0..{n_max - 1}, got {segments.min()}..{segments.max()}"
        )
    n_images = len(cams)
    offsets = (np.arange(n_images, dtype=np.int64) * n_max)[:, None, None]
    labels = (segments.astype(np.int64) + offsets).ravel()
    sums = np.bincount(labels, weights=cams.astype(np.float64).ravel(), minlength=n_images * n_max)
    counts = np.bincount(labels, minlength=n_images * n_max)
    return sums.reshape(n_images, n_max), counts.reshape(n_images, n_max)


# --- pixel-level measures --------------------------------------------------------------------


def topk_iou(cams_a: np.ndarray, cams_b: np.ndarray, topk: float = DEFAULT_TOPK) -> np.ndarray:
    """IoU of the top-k pixel sets of two maps per pair (B,).

    With n pixels and k = ceil(topk * n), a map's set is every pixel whose value is >= its
    k-th largest value: ties at the threshold are all included, so the set does not depend
    on pixel order (a flat map selects all pixels). NaN where a map has a non-finite value.
    """
    if not 0 < topk <= 1:
        raise ValueError(f"topk must lie in (0, 1], got {topk}")
    flat_a = cams_a.reshape(len(cams_a), -1)
    flat_b = cams_b.reshape(len(cams_b), -1)
    n_pixels = flat_a.shape[1]
    k = math.ceil(topk * n_pixels - 1e-9)
    top_a = flat_a >= np.partition(flat_a, n_pixels - k, axis=1)[:, n_pixels - k, None]
    top_b = flat_b >= np.partition(flat_b, n_pixels - k, axis=1)[:, n_pixels - k, None]
    iou = (top_a & top_b).sum(axis=1) / (top_a | top_b).sum(axis=1)
    iou[~(finite_maps(cams_a) & finite_maps(cams_b))] = np.nan
    return iou


def ssim_scores(cams_a: np.ndarray, cams_b: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Mean SSIM per pair (B,), as skimage ``structural_similarity`` with a 7x7 uniform window.

    With window means mu, sample (co)variances sigma (factor N/(N-1), N = 49),
    C1 = (0.01 R)^2, C2 = (0.03 R)^2::

        SSIM = (2 mu_a mu_b + C1)(2 sigma_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(sigma_a^2 + sigma_b^2 + C2))

    averaged over the pixels whose window lies inside the image. Computed in float64.
    """
    height, width = cams_a.shape[1:]
    if min(height, width) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs maps of at least {SSIM_WINDOW} px, got {height}x{width}")
    out = np.empty(len(cams_a), dtype=np.float64)
    for begin in range(0, len(cams_a), _SSIM_CHUNK):
        chunk = slice(begin, begin + _SSIM_CHUNK)
        out[chunk] = _ssim_chunk(cams_a[chunk], cams_b[chunk], data_range)
    return out


def _ssim_chunk(cams_a: np.ndarray, cams_b: np.ndarray, data_range: float) -> np.ndarray:
    a = cams_a.astype(np.float64)
    b = cams_b.astype(np.float64)
    size = (1, SSIM_WINDOW, SSIM_WINDOW)
    mean_a, mean_b = uniform_filter(a, size), uniform_filter(b, size)
    sample = SSIM_WINDOW**2 / (SSIM_WINDOW**2 - 1)
    var_a = sample * (uniform_filter(a * a, size) - mean_a * mean_a)
    var_b = sample * (uniform_filter(b * b, size) - mean_b * mean_b)
    cov = sample * (uniform_filter(a * b, size) - mean_a * mean_b)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mean_a * mean_b + c1) * (2 * cov + c2)) / ((mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2))
    pad = (SSIM_WINDOW - 1) // 2
    return ssim_map[:, pad:-pad, pad:-pad].mean(axis=(1, 2))


def l1_distance(cams_a: np.ndarray, cams_b: np.ndarray) -> np.ndarray:
    """Normalised L1 distance per pair: mean over pixels of |e - e'| (maps in [0, 1])."""
    return np.abs(cams_a.astype(np.float64) - cams_b).mean(axis=(1, 2))


def relative_sensitivity(cams_clean: np.ndarray, cams_noisy: np.ndarray) -> np.ndarray:
    """||e - e'||_F / ||e||_F per pair; NaN where the clean map is all zero."""
    clean = cams_clean.astype(np.float64)
    difference = np.sqrt(((clean - cams_noisy) ** 2).sum(axis=(1, 2)))
    norm = np.sqrt((clean**2).sum(axis=(1, 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, difference / norm, np.nan)


def finite_maps(cams: np.ndarray) -> np.ndarray:
    """Per map: whether every pixel is finite."""
    return np.isfinite(cams).all(axis=(1, 2))


def as_numpy(array: np.ndarray | torch.Tensor) -> np.ndarray:
    """A numpy array of an array or a torch tensor (on any device)."""
    if hasattr(array, "detach"):  # a torch tensor, on any device (torch itself is not imported here)
        return array.detach().cpu().numpy()
    return np.asarray(array)
