"""Consistency, responsiveness and robustness RM per group of the score table, with CIs.

For the rows of one group (e.g. one dataset, model, cam, noise and severity; or pooled over
severities by leaving ``severity`` out of ``by``), with r = rbo::

    C  = mean of r       over rows with changed == False   (class-preserving pairs)
    R  = mean of (1 - r) over rows with changed == True    (class-changing pairs)
    RM = C * R

Rows whose rbo is NaN are left out and counted in ``n_nan``. Where a set is empty, C or R
(and RM) is NaN and ``reason`` says which set is missing: never 0, never a dropped row.

Uncertainty: percentile bootstrap over images (:mod:`camrobust.analysis.bootstrap`). Each of
``n_boot`` replicates draws the group's images with replacement (all rows of a drawn image come
along, so pooled rows of one image stay together); C*, R*, RM* are computed from the drawn rows
and the CI is the ((1 - ci)/2, (1 + ci)/2) quantile of the replicates, ignoring replicates in
which a set is empty. The generator is seeded from ``seed`` and the group's key (blake2b), so a
group's CI does not depend on the other groups or their order.

Minimum support: a set of fewer than ``min_n`` distinct images (``images_same``,
``images_changed``; in a pooled row an image counts once, whatever its number of severities)
gives its estimate without an interval: the CI of C (or R) and of RM is NaN and ``reason`` says
why, e.g. ``images_changed = 1 < 10``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from camrobust import vocabulary
from camrobust.analysis.bootstrap import (
    check_settings,
    image_draws,
    percentile_interval,
    replicate_sums,
    support_reason,
)
from camrobust.analysis.totals import estimates
from camrobust.seeding import image_generator

REQUIRED_COLUMNS: tuple[str, ...] = ("image_id", "changed", vocabulary.RBO.name)
ESTIMATES: tuple[str, ...] = tuple(score.name for score in vocabulary.ROBUSTNESS)
"""consistency, responsiveness, rm: the estimates of :func:`robustness_table`."""
SUMMARY_COLUMNS: tuple[str, ...] = (
    "n",
    "n_nan",
    "n_same",
    "n_changed",
    "images_same",
    "images_changed",
    *(column for name in ESTIMATES for column in (name, f"{name}_lo", f"{name}_hi")),
    "reason",
)
NO_PRESERVING = "no class-preserving pairs"
NO_CHANGING = "no class-changing pairs"


def robustness_table(
    scores: pd.DataFrame,
    by: Sequence[str],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    min_n: int = 10,
) -> pd.DataFrame:
    """One row per group of ``by`` with the columns ``by`` + :data:`SUMMARY_COLUMNS`.

    ``scores`` needs ``image_id``, ``changed`` (bool) and ``rbo``; images are told apart by
    ``(dataset, image_id)`` where a ``dataset`` column exists. ``n_boot = 0`` leaves the CI
    columns NaN, and so does a set of fewer than ``min_n`` images (see the module docstring).
    Groups come out sorted by their key.
    """
    by = list(by)
    _check_inputs(scores, by)
    check_settings(n_boot, ci, min_n)
    settings = (n_boot, seed, ci, min_n)
    if not by:
        return pd.DataFrame([_summarise(scores, (), *settings)], columns=list(SUMMARY_COLUMNS))
    rows = []
    for key, group in scores.groupby(by, sort=True, dropna=False):
        key = _key_tuple(key)
        rows.append({**dict(zip(by, key, strict=True)), **_summarise(group, key, *settings)})
    return pd.DataFrame(rows, columns=by + list(SUMMARY_COLUMNS))


def _check_inputs(scores: pd.DataFrame, by: list[str]) -> None:
    missing = [column for column in (*REQUIRED_COLUMNS, *by) if column not in scores.columns]
    if missing:
        raise ValueError(
            f"scores lack column(s) {', '.join(missing)}; available: {', '.join(map(str, scores.columns))}"
        )


def _summarise(group: pd.DataFrame, key: tuple, n_boot: int, seed: int, ci: float, min_n: int) -> dict:
    """C, R, RM, counts, reason and bootstrap CIs of one group's rows."""
    similarity = group[vocabulary.RBO.name].to_numpy(dtype=np.float64)
    scored = ~np.isnan(similarity)
    changed = group["changed"].to_numpy(dtype=bool)[scored]
    similarity = similarity[scored]
    image_keys = _image_keys(group)[scored]
    per_image = _per_image_sums(image_keys, similarity, changed)
    estimate = estimates(*(total.sum(axis=-1) for total in per_image))
    n_same, n_changed = int((~changed).sum()), int(changed.sum())
    images_same, images_changed = int((per_image[1] > 0).sum()), int((per_image[3] > 0).sum())
    reasons = [text for empty, text in ((n_same == 0, NO_PRESERVING), (n_changed == 0, NO_CHANGING)) if empty]
    thin = [
        support_reason(name, count, min_n) if count else ""
        for name, count in (("images_same", images_same), ("images_changed", images_changed))
    ]
    summary = {
        "n": len(group),
        "n_nan": int((~scored).sum()),
        "n_same": n_same,
        "n_changed": n_changed,
        "images_same": images_same,
        "images_changed": images_changed,
        "reason": "; ".join([*reasons, *(text for text in thin if text)]),
    }
    bounds = _bootstrap(per_image, n_boot, image_generator("robustness_bootstrap", seed, *key), ci)
    supported = (not thin[0], not thin[1], not any(thin))  # C rests on one set, R on the other, RM on both
    for name, value, (low, high), ok in zip(ESTIMATES, estimate, bounds, supported, strict=True):
        low, high = (low, high) if ok else (np.nan, np.nan)
        summary.update({name: float(value), f"{name}_lo": low, f"{name}_hi": high})
    return summary


def _image_keys(group: pd.DataFrame) -> np.ndarray:
    """Integer code per row identifying its image, (dataset, image_id) where dataset exists."""
    columns = [column for column in ("dataset", "image_id") if column in group.columns]
    return group.groupby(columns, sort=True, dropna=False).ngroup().to_numpy()


def _per_image_sums(
    image_keys: np.ndarray, similarity: np.ndarray, changed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per image: sum of r and count over preserving rows, sum of 1 - r and count over changing rows."""
    codes, image_index = np.unique(image_keys, return_inverse=True)
    n_images = len(codes)
    same, flipped = ~changed, changed
    return (
        np.bincount(image_index, weights=np.where(same, similarity, 0.0), minlength=n_images),
        np.bincount(image_index, weights=same.astype(np.float64), minlength=n_images),
        np.bincount(image_index, weights=np.where(flipped, 1.0 - similarity, 0.0), minlength=n_images),
        np.bincount(image_index, weights=flipped.astype(np.float64), minlength=n_images),
    )


def _bootstrap(
    per_image: tuple[np.ndarray, ...], n_boot: int, generator: np.random.Generator, ci: float
) -> list[tuple[float, float]]:
    """Percentile CIs of (C, R, RM) from the per-image sums of (n_boot, n_images) drawn images
    (:func:`camrobust.analysis.bootstrap.replicate_sums`: 4 bytes per replicate and image, about
    200 MB for 1,000 replicates of 50,000 images, plus one block of sums)."""
    n_images = len(per_image[0])
    if n_boot == 0 or n_images == 0:
        return [(np.nan, np.nan)] * 3
    draws = image_draws(n_images, n_boot, generator)
    replicates = estimates(*(replicate_sums(total, draws) for total in per_image))
    return [percentile_interval(values, ci) for values in replicates]


def _key_tuple(key: object) -> tuple:
    return key if isinstance(key, tuple) else (key,)


def similarity_columns(columns: Sequence[str]) -> list[str]:
    """The similarities :func:`similarity_summary` averages, as named among a score table's
    ``columns``: spearman, the top-k IoU (``iou_top20`` for the top 20 %), ssim and l1."""
    return [
        vocabulary.SPEARMAN.name,
        vocabulary.find_iou_column(columns),
        vocabulary.SSIM.name,
        vocabulary.L1.name,
    ]


def similarity_summary(scores: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Complementary measures per group of ``by``, reported beside RBO (they do not enter RM).

    Per group: ``n`` rows, the mean (NaN ignored) of spearman, the top-k IoU, ssim, l1 and
    sensitivity (``sensitivity_mean``, Avg-Sensitivity), and ``sensitivity_max`` = mean over
    images of each image's largest sensitivity in the group (Max-Sensitivity; over severities
    for a pooled group). Images are told apart as in :func:`robustness_table`. The IoU column
    is the one the table has (:func:`camrobust.vocabulary.find_iou_column`).
    """
    by = list(by)
    sensitivity = vocabulary.SENSITIVITY.name
    measures = similarity_columns([str(column) for column in scores.columns])
    needed = ("image_id", *measures, sensitivity, *by)
    missing = [column for column in needed if column not in scores.columns]
    if missing:
        raise ValueError(
            f"scores lack column(s) {', '.join(missing)}; available: {', '.join(map(str, scores.columns))}"
        )
    keyed = scores.assign(_image=_image_keys(scores), _all=0)
    group_columns = by or ["_all"]
    grouped = keyed.groupby(group_columns, sort=True, dropna=False)
    summary = grouped[measures].mean()
    summary.insert(0, "n", grouped.size())
    summary[f"{sensitivity}_mean"] = grouped[sensitivity].mean()
    per_image_max = keyed.groupby([*group_columns, "_image"], sort=True, dropna=False)[sensitivity].max()
    summary[f"{sensitivity}_max"] = per_image_max.groupby(level=list(range(len(group_columns))), dropna=False).mean()
    summary = summary.reset_index()
    return summary.drop(columns="_all") if not by else summary
