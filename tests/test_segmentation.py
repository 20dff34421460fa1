"""Segmentation: contiguous labels, determinism, region counts of the size-dependent defaults."""

from __future__ import annotations

import numpy as np
import pytest

from camrobust.segmentation import (
    LIME_QUICKSHIFT,
    default_segmentation,
    region_counts,
    segment,
)


def structured_images(n: int, size: int, seed: int, texture: float = 12.0) -> np.ndarray:
    """Random coloured rectangles on a coloured background with Gaussian texture."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    for index in range(n):
        image = np.empty((size, size, 3))
        image[:] = rng.uniform(0, 255, 3)
        for _ in range(8):
            height, width = rng.integers(size // 8, size // 2, 2)
            top, left = rng.integers(0, size - height), rng.integers(0, size - width)
            image[top : top + height, left : left + width] = rng.uniform(0, 255, 3)
        images[index] = np.clip(image + rng.normal(0, texture, image.shape), 0, 255)
    return images


def assert_contiguous(labels: np.ndarray) -> None:
    for image_labels in labels:
        np.testing.assert_array_equal(np.unique(image_labels), np.arange(image_labels.max() + 1))


def test_quickshift_defaults_give_20_to_60_regions_at_64px() -> None:
    images = np.concatenate([structured_images(6, 64, 0, 5.0), structured_images(6, 64, 1, 12.0)])
    labels = segment(images)
    assert labels.dtype == np.int32 and labels.shape == images.shape[:3]
    assert_contiguous(labels)
    counts = region_counts(labels)
    np.testing.assert_array_equal(counts, [len(np.unique(image_labels)) for image_labels in labels])
    assert counts.min() >= 20 and counts.max() <= 60, counts


def test_segmentation_is_deterministic() -> None:
    images = structured_images(3, 48, 2)
    np.testing.assert_array_equal(segment(images), segment(images))
    np.testing.assert_array_equal(segment(images, "slic"), segment(images, "slic"))


def test_slic_option_gives_contiguous_labels_in_range() -> None:
    labels = segment(structured_images(4, 64, 3), method="slic")
    assert_contiguous(labels)
    counts = region_counts(labels)
    assert counts.min() >= 20 and counts.max() <= 60, counts


def test_default_parameters_per_size() -> None:
    assert default_segmentation(224) == LIME_QUICKSHIFT
    assert default_segmentation(64) == {"kernel_size": 1.5, "max_dist": 8.0, "ratio": 0.2}
    assert default_segmentation(16) == {"kernel_size": 1.0, "max_dist": 6.0, "ratio": 0.2}
    assert default_segmentation(64, "slic") == {"n_segments": 40, "compactness": 40.0}


def test_explicit_parameters_override_defaults() -> None:
    images = structured_images(2, 64, 4)
    coarse = region_counts(segment(images, kernel_size=4, max_dist=200, ratio=0.2))
    assert coarse.max() < 12  # LIME's values are too coarse at 64 px (the reason for the defaults)


def test_bad_input_is_named() -> None:
    images = structured_images(1, 32, 5)
    with pytest.raises(ValueError, match="quickshift, slic"):
        segment(images, method="felzenszwalb")
    with pytest.raises(ValueError, match="kernel_sise"):
        segment(images, kernel_sise=3)
    with pytest.raises(ValueError, match="uint8"):
        segment(images.astype(np.float32))
