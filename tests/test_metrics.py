"""Region importance, Spearman, top-k IoU, SSIM, L1, sensitivity and pair_similarities notes.

Tolerances: every comparison is of float64 results of O(1) values computed in another summation
order (region means over at most a few hundred pixels, SSIM's 7x7 windows): each is at most a few
hundred roundings of 2^-53 ~ 1.1e-16 relative, i.e. below 1e-13, so 1e-12 has a margin of ten.
pytest.approx's default (relative 1e-6) is used only for exact fractions (1/3, 0.25, ...).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity

from camrobust.scoring import (
    l1_distance,
    pair_keys,
    pair_similarities,
    rbo_scores,
    region_importance,
    relative_sensitivity,
    spearman_scores,
    ssim_scores,
    topk_iou,
)


def block_segments(n_images: int, size: int, block: int) -> np.ndarray:
    """Square blocks of ``block`` px, labels 0..(size/block)^2 - 1."""
    rows = np.arange(size)[:, None] // block
    cols = np.arange(size)[None, :] // block
    return np.broadcast_to(rows * (size // block) + cols, (n_images, size, size)).astype(np.int32).copy()


def test_region_importance_matches_loop_reference() -> None:
    rng = np.random.default_rng(0)
    cams = rng.random((4, 12, 12)).astype(np.float32)
    segments = rng.integers(0, 7, (4, 12, 12)).astype(np.int32)
    segments[1][segments[1] == 3] = 2  # label 3 absent in image 1
    n_max = 9
    expected = np.full((4, n_max), np.nan)
    for image in range(4):
        for label in range(n_max):
            pixels = segments[image] == label
            if pixels.any():
                expected[image, label] = cams[image][pixels].astype(np.float64).mean()
    result = region_importance(cams, segments, n_max)
    assert result.dtype == np.float64 and result.shape == (4, n_max)
    np.testing.assert_allclose(result, expected, rtol=1e-12)
    np.testing.assert_allclose(
        region_importance(torch.from_numpy(cams), torch.from_numpy(segments), n_max), expected, rtol=1e-12
    )
    with pytest.raises(ValueError, match="0..n_max-1"):
        region_importance(cams, segments, 5)


def test_spearman_matches_scipy_with_ties_and_masks() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 5, (100, 10)).astype(float)
    b = a + rng.integers(-2, 3, (100, 10))
    valid = np.arange(10)[None, :] < rng.integers(3, 11, 100)[:, None]
    rho = spearman_scores(a, b, valid)
    for row in range(100):
        x, y = a[row, valid[row]], b[row, valid[row]]
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            assert np.isnan(rho[row])
        else:
            assert rho[row] == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)


def test_topk_iou_hand_values() -> None:
    a = (np.arange(10, dtype=float)[::-1] / 9).reshape(1, 2, 5)  # top 2 = pixels 0, 1
    b = a.copy().reshape(1, 10)
    b[0, [0, 2]] = b[0, [2, 0]]  # top 2 = pixels 1, 2
    assert topk_iou(a, b.reshape(1, 2, 5), 0.2)[0] == pytest.approx(1 / 3)
    flat = np.full((1, 2, 5), 0.4)
    assert topk_iou(a, flat, 0.2)[0] == pytest.approx(2 / 10)  # a flat map selects every pixel
    tied = np.array([[[1.0, 1.0, 1.0, 0, 0], [0, 0, 0, 0, 0]]])  # 3 pixels tie at the threshold
    assert topk_iou(tied, a, 0.2)[0] == pytest.approx(2 / 3)
    assert np.isnan(topk_iou(np.full((1, 2, 5), np.nan), a, 0.2)[0])


def test_l1_and_sensitivity_hand_values() -> None:
    zeros = np.zeros((1, 4, 4))
    half = zeros.copy()
    half[0, :2] = 0.5
    assert l1_distance(zeros, half)[0] == pytest.approx(0.25)
    clean = np.zeros((1, 1, 2))
    clean[0, 0] = [0.6, 0.8]  # ||e|| = 1
    assert relative_sensitivity(clean, np.zeros((1, 1, 2)))[0] == pytest.approx(1.0)
    assert relative_sensitivity(clean, np.array([[[0.6, 0.5]]]))[0] == pytest.approx(0.3)
    assert np.isnan(relative_sensitivity(zeros, half)[0])


def test_ssim_matches_skimage() -> None:
    rng = np.random.default_rng(2)
    for shape in [(16, 16), (20, 24)]:
        a = rng.random((3, *shape))
        b = np.clip(a + rng.normal(0, 0.2, a.shape), 0, 1)
        b[2] = a[2]
        ours = ssim_scores(a, b)
        reference = [structural_similarity(x, y, data_range=1.0) for x, y in zip(a, b, strict=True)]
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)
        assert ours[2] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 7 px"):
        ssim_scores(np.zeros((1, 5, 5)), np.zeros((1, 5, 5)))


def test_pair_similarities_scores_and_notes() -> None:
    rng = np.random.default_rng(3)
    n, size = 5, 16
    clean = rng.random((n, size, size)).astype(np.float32)
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    segments = block_segments(n, size, 4)
    clean[1, 3, 3] = np.nan  # NaN CAM
    clean[2] = 0.0  # flat clean CAM, structured noisy CAM
    segments[3] = 0  # one region
    clean[4] = 0.0  # both flat
    noisy[4] = 0.0
    result = pair_similarities(clean, noisy, segments, p=0.9, topk=0.2)
    assert tuple(result) == pair_keys(0.2)
    assert pair_keys(0.2) == ("rbo", "spearman", "iou_top20", "ssim", "l1", "sensitivity", "n_regions", "note")
    importance_clean = region_importance(clean, segments, 16)
    importance_noisy = region_importance(noisy, segments, 16)
    expected_rbo = rbo_scores(importance_clean[[0]], importance_noisy[[0]], p=0.9)[0]
    assert result["rbo"][0] == pytest.approx(expected_rbo, abs=1e-12)
    np.testing.assert_array_equal(result["n_regions"], [16, 16, 16, 1, 16])
    assert list(result["note"]) == [
        "",
        "clean CAM is NaN",
        "spearman undefined: constant region importance; sensitivity undefined: clean CAM is zero",
        "single region",
        "spearman undefined: constant region importance; sensitivity undefined: clean CAM is zero",
    ]
    for key in ("rbo", "spearman", "iou_top20", "ssim", "l1", "sensitivity"):
        assert np.isnan(result[key][1]), key
    # Flat clean CAM: a single tie group against a ranking; A_d = d / m.
    m, p = 16, 0.9
    assert result["rbo"][2] == pytest.approx(
        p**m + (1 - p) / p * sum((d / m) * p**d for d in range(1, m + 1)), abs=1e-12
    )
    assert np.isnan(result["rbo"][3]) and np.isnan(result["spearman"][3]) and np.isfinite(result["ssim"][3])
    assert result["rbo"][4] == pytest.approx(1.0) and result["ssim"][4] == pytest.approx(1.0)
    assert result["l1"][4] == 0.0 and result["iou_top20"][4] == 1.0
    with pytest.raises(ValueError, match="share one"):
        pair_similarities(clean, noisy[:, :8], segments)


def test_the_iou_column_is_named_by_its_share_of_pixels() -> None:
    """metric.topk = 0.1 scores the top 10 % pixels under ``iou_top10``: the same numbers as topk_iou."""
    rng = np.random.default_rng(5)
    clean, noisy = rng.random((2, 3, 16, 16))
    segments = block_segments(3, 16, 4)
    result = pair_similarities(clean, noisy, segments, topk=0.1)
    assert tuple(result) == pair_keys(0.1) and "iou_top10" in result and "iou_top20" not in result
    np.testing.assert_array_equal(result["iou_top10"], topk_iou(clean, noisy, 0.1))
