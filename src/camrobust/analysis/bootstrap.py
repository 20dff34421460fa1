"""The percentile bootstrap over images that every interval of camrobust uses.

The image is the unit that is resampled: each replicate draws the n images of a group with
replacement (``draws``, an (n_boot, n) matrix of image indices), and a statistic is recomputed from
the drawn images' rows. The interval is the ((1 - ci)/2, (1 + ci)/2) quantile of the replicates,
ignoring replicates in which the statistic is undefined (NaN). The generator is seeded from the
workflow's seed and the group's key (:func:`camrobust.seeding.image_generator`), so an interval does
not depend on other groups or on their order.

Below ``min_n`` images an interval is not computed: it is NaN and :func:`support_reason` says why.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Drawn values per block of replicates summed at once (8 MB of float64).
BOOTSTRAP_BLOCK_VALUES = 1 << 20


def image_draws(n_images: int, n_boot: int, generator: np.random.Generator) -> np.ndarray:
    """(n_boot, n_images) int32 indices of the images each replicate draws, with replacement."""
    return generator.integers(0, n_images, size=(n_boot, n_images), dtype=np.int32)


def replicate_sums(totals: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Per replicate, the sum of the drawn images' rows: ``totals`` (n_images, ...) ->
    (n_boot, ...), i.e. sum_i totals[draws[b, i]].

    Replicates are summed ``BOOTSTRAP_BLOCK_VALUES`` drawn values at a time, so memory holds the
    draws and one block, whatever the number of images."""
    totals = np.asarray(totals, dtype=np.float64)
    n_boot, n_images = draws.shape
    width = int(np.prod(totals.shape[1:], dtype=np.int64))
    rows_per_block = max(1, BOOTSTRAP_BLOCK_VALUES // max(1, n_images * width))
    blocks = [totals[draws[start : start + rows_per_block]].sum(axis=1) for start in range(0, n_boot, rows_per_block)]
    if not blocks:
        return np.zeros((0, *totals.shape[1:]))
    return np.concatenate(blocks)


def replicate_statistic(
    statistic: Callable[[np.ndarray], np.ndarray], rows: np.ndarray, draws: np.ndarray
) -> np.ndarray:
    """``statistic`` of every replicate: ``statistic`` maps a (block, n_images, ...) stack of
    drawn rows to (block,) values; replicates are evaluated in blocks as in :func:`replicate_sums`."""
    rows = np.asarray(rows)
    n_boot, n_images = draws.shape
    width = int(np.prod(rows.shape[1:], dtype=np.int64))
    rows_per_block = max(1, BOOTSTRAP_BLOCK_VALUES // max(1, n_images * width))
    parts = [statistic(rows[draws[start : start + rows_per_block]]) for start in range(0, n_boot, rows_per_block)]
    return np.concatenate(parts) if parts else np.zeros(0)


def percentile_interval(replicates: np.ndarray, ci: float) -> tuple[float, float]:
    """The ((1 - ci)/2, (1 + ci)/2) quantiles of the finite replicates; NaN where there are none."""
    values = np.asarray(replicates, dtype=np.float64).ravel()
    finite = values[np.isfinite(values)]
    if not finite.size:
        return (np.nan, np.nan)
    low, high = np.quantile(finite, ((1 - ci) / 2, (1 + ci) / 2))
    return float(low), float(high)


def support_reason(name: str, count: int, min_n: int) -> str:
    """Why an interval resting on ``count`` images is NaN, e.g. ``"n_changed = 1 < 10"``; ""
    where ``count >= min_n``."""
    return f"{name} = {count} < {min_n}" if count < min_n else ""


def check_settings(n_boot: int, ci: float, min_n: int) -> None:
    """ValueError naming a bootstrap setting out of range."""
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci}")
    if min_n < 1:
        raise ValueError(f"min_n must be >= 1, got {min_n}")
