"""Per-image sums behind C, R and RM, so that CAM methods, similarity measures or metric settings
can be compared on the same bootstrap draws of images (a paired bootstrap).

For a similarity s of each (clean, noisy) pair (RBO r, or another in [0, 1]), an image's totals
over its pairs in a group are::

    same_sum   = sum of s       over its class-preserving pairs,   same_count   = their number
    change_sum = sum of (1 - s) over its class-changing pairs,     change_count = their number

and the group's C = sum same_sum / sum same_count, R = sum change_sum / sum change_count and
RM = C * R (NaN where a set is empty). Pairs whose s is NaN are left out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

TOTALS: tuple[str, ...] = ("same_sum", "same_count", "change_sum", "change_count")


def image_totals(
    image_ids: pd.Series | np.ndarray, changed: np.ndarray, values: Mapping[str, np.ndarray], images: pd.Index
) -> np.ndarray:
    """Totals (len(images), len(values), 4) of one group's rows: row i belongs to image
    ``image_ids[i]`` (a member of ``images``), ``changed[i]`` says its set and ``values[v][i]`` is
    its similarity under variant v."""
    position = images.get_indexer(pd.Index(np.asarray(image_ids)))
    if (position < 0).any():
        raise ValueError("image ids outside the image index")
    changed = np.asarray(changed, dtype=bool)
    out = np.zeros((len(images), len(values), len(TOTALS)))
    for column, similarity in enumerate(values.values()):
        similarity = np.asarray(similarity, dtype=np.float64)
        scored = np.isfinite(similarity)
        same, flipped = scored & ~changed, scored & changed
        weights = (
            np.where(same, similarity, 0.0),
            same.astype(np.float64),
            np.where(flipped, 1.0 - similarity, 0.0),
            flipped.astype(np.float64),
        )
        for index, weight in enumerate(weights):
            out[:, column, index] = np.bincount(position, weights=weight, minlength=len(images))
    return out


def estimates(
    same_sum: np.ndarray, same_count: np.ndarray, change_sum: np.ndarray, change_count: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(C, R, RM) from summed totals; NaN where a set is empty (works elementwise)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        consistency = np.where(same_count > 0, same_sum / same_count, np.nan)
        responsiveness = np.where(change_count > 0, change_sum / change_count, np.nan)
    return consistency, responsiveness, consistency * responsiveness


def rm(summed: np.ndarray) -> np.ndarray:
    """RM from totals summed over images, the last axis being :data:`TOTALS`."""
    return estimates(*np.moveaxis(summed, -1, 0))[2]


def set_images(totals: np.ndarray) -> tuple[int, int]:
    """Images with at least one class-preserving / class-changing pair, from (n_images, ..., 4) totals."""
    flat = totals.reshape(totals.shape[0], -1, len(TOTALS))
    return int((flat[..., 1] > 0).any(axis=1).sum()), int((flat[..., 3] > 0).any(axis=1).sum())


def kendall_tau(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between two scorings of the same k items along the last axis (any leading
    shape), on the items finite in both: tau_b = (concordant - discordant) / sqrt((n0 - n1) (n0 - n2)),
    n0 the item pairs, n1 / n2 those tied in ``first`` / ``second``; NaN where undefined."""
    x, y = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    valid = np.isfinite(x) & np.isfinite(y)
    upper = np.triu(np.ones((x.shape[-1], x.shape[-1]), dtype=bool), 1)
    pairs = valid[..., :, None] & valid[..., None, :] & upper
    with np.errstate(invalid="ignore"):
        dx = np.sign(x[..., :, None] - x[..., None, :])
        dy = np.sign(y[..., :, None] - y[..., None, :])
    dx, dy = np.where(pairs, dx, 0.0), np.where(pairs, dy, 0.0)
    n0 = pairs.sum(axis=(-2, -1))
    tied_x = (pairs & (dx == 0)).sum(axis=(-2, -1))
    tied_y = (pairs & (dy == 0)).sum(axis=(-2, -1))
    denominator = np.sqrt((n0 - tied_x) * (n0 - tied_y).astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (dx * dy).sum(axis=(-2, -1)) / denominator, np.nan)


def noise_mean(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean over ``axis`` ignoring NaN; NaN where every value is NaN (no warning)."""
    finite = np.isfinite(values)
    counts = finite.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, np.where(finite, values, 0.0).sum(axis=axis) / counts, np.nan)
