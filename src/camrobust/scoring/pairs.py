"""Every similarity of a batch of (clean, noisy) CAM pairs on the clean image's regions.

The clean image's segmentation regions are the ranked items: each CAM gives each region its
mean value (:func:`camrobust.scoring.similarities.region_importance`), RBO compares the two
rankings (:mod:`camrobust.scoring.rbo`) and the other similarities are reported beside it
(:mod:`camrobust.scoring.similarities`). A score that cannot be computed is NaN with a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from camrobust import vocabulary
from camrobust.scoring.rbo import rbo_scores
from camrobust.scoring.similarities import (
    as_numpy,
    finite_maps,
    l1_distance,
    region_sums,
    relative_sensitivity,
    spearman_scores,
    ssim_scores,
    topk_iou,
)

if TYPE_CHECKING:
    import torch


def pair_keys(topk: float = vocabulary.DEFAULT_TOPK) -> tuple[str, ...]:
    """The keys of :func:`pair_similarities`' result, in order: the similarity columns of a score
    table (:func:`camrobust.vocabulary.similarity_columns`), then ``n_regions`` and ``note``."""
    return (*vocabulary.similarity_columns(topk), vocabulary.N_REGIONS, vocabulary.NOTE)


# --- all measures for one batch of (clean, noisy) pairs --------------------------------------


def pair_similarities(
    clean_cams: np.ndarray | torch.Tensor,
    noisy_cams: np.ndarray | torch.Tensor,
    segments: np.ndarray | torch.Tensor,
    p: float = 0.9,
    topk: float = vocabulary.DEFAULT_TOPK,
) -> dict[str, np.ndarray]:
    """Every similarity of (clean, noisy) CAM pairs (B, H, W) on the clean image's segments.

    Returns arrays (B,) under :func:`pair_keys`: rbo, spearman, the top-k IoU (named by
    :func:`camrobust.vocabulary.iou_column`: ``iou_top20`` for the top 20 % pixels), ssim, l1,
    sensitivity (float64), n_regions (int64) and note (str: "" or the reasons, joined by "; ",
    why a score is NaN). A CAM with a non-finite pixel makes every
    score of its pair NaN ("clean CAM is NaN" / "noisy CAM is NaN"); one region makes rbo and
    spearman NaN ("single region"); flat maps are scored through ties.
    """
    clean = as_numpy(clean_cams).astype(np.float64)
    noisy = as_numpy(noisy_cams).astype(np.float64)
    labels = as_numpy(segments)
    if clean.shape != noisy.shape or clean.shape != labels.shape or clean.ndim != 3:
        raise ValueError(
            "clean_cams, noisy_cams and segments must share one (B, H, W) shape, got "
            f"{clean.shape}, {noisy.shape} and {labels.shape}"
        )
    n_max = int(labels.max()) + 1 if labels.size else 1
    sums_clean, counts = region_sums(clean, labels, n_max)
    sums_noisy, _ = region_sums(noisy, labels, n_max)
    valid = counts > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        importance_clean = sums_clean / counts
        importance_noisy = sums_noisy / counts
    n_regions = valid.sum(axis=1).astype(np.int64)
    clean_ok, noisy_ok = finite_maps(clean), finite_maps(noisy)
    ranked = (n_regions >= 2) & clean_ok & noisy_ok
    rbo_values = np.where(ranked, rbo_scores(importance_clean, importance_noisy, valid, p), np.nan)
    spearman = spearman_scores(importance_clean, importance_noisy, valid & ranked[:, None])
    pixels_ok = clean_ok & noisy_ok
    result: dict[str, np.ndarray] = {
        vocabulary.RBO.name: rbo_values,
        vocabulary.SPEARMAN.name: spearman,
        vocabulary.iou_column(topk): topk_iou(clean, noisy, topk),
        vocabulary.SSIM.name: np.where(pixels_ok, ssim_scores(clean, noisy), np.nan),
        vocabulary.L1.name: np.where(pixels_ok, l1_distance(clean, noisy), np.nan),
        vocabulary.SENSITIVITY.name: np.where(pixels_ok, relative_sensitivity(clean, noisy), np.nan),
        vocabulary.N_REGIONS: n_regions,
    }
    result[vocabulary.NOTE] = _pair_notes(clean_ok, noisy_ok, n_regions, result)
    return result


def rbo_by_persistence(
    clean_cams: np.ndarray, noisy_cams: np.ndarray, segments: np.ndarray, ps: Sequence[float]
) -> dict[float, np.ndarray]:
    """RBO (B,) of (clean, noisy) CAM pairs (B, H, W) on the clean image's segments for every
    persistence p in ``ps``, from one computation of the region importances; NaN as in
    :func:`pair_similarities` (a non-finite map, a single region)."""
    clean = as_numpy(clean_cams).astype(np.float64)
    noisy = as_numpy(noisy_cams).astype(np.float64)
    labels = as_numpy(segments)
    n_max = int(labels.max()) + 1 if labels.size else 1
    sums_clean, counts = region_sums(clean, labels, n_max)
    sums_noisy, _ = region_sums(noisy, labels, n_max)
    valid = counts > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        importance_clean, importance_noisy = sums_clean / counts, sums_noisy / counts
    ranked = (valid.sum(axis=1) >= 2) & finite_maps(clean) & finite_maps(noisy)
    return {p: np.where(ranked, rbo_scores(importance_clean, importance_noisy, valid, p), np.nan) for p in ps}


def _pair_notes(
    clean_ok: np.ndarray, noisy_ok: np.ndarray, n_regions: np.ndarray, scores: dict[str, np.ndarray]
) -> np.ndarray:
    """Reason per pair for each NaN score, "" when every score is defined."""
    pixels_ok = clean_ok & noisy_ok
    ranked = pixels_ok & (n_regions >= 2)
    reasons = [
        (~clean_ok, "clean CAM is NaN"),
        (~noisy_ok, "noisy CAM is NaN"),
        (pixels_ok & (n_regions < 2), "single region"),
        (ranked & np.isnan(scores[vocabulary.SPEARMAN.name]), "spearman undefined: constant region importance"),
        (pixels_ok & np.isnan(scores[vocabulary.SENSITIVITY.name]), "sensitivity undefined: clean CAM is zero"),
    ]
    notes = np.full(len(n_regions), "", dtype=object)
    for mask, reason in reasons:
        notes[mask] = [f"{note}; {reason}" if note else reason for note in notes[mask]]
    return notes.astype(str)
