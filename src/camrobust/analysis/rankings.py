"""Does the CAM ranking by RM change with the measure or the setting behind RM?

For one (dataset, model), every variant v (a similarity measure, or a setting of the metric) gives
each CAM method an RM per noise from the same pairs; a CAM's score under v is the mean of its
pooled RM over the noises (NaN-skipping: a noise without class-changing pairs has no RM for any
CAM). Kendall's tau-b compares each variant's CAM ranking with the reference variant's (+1 the same
order, -1 reversed), with a percentile-bootstrap CI over images: every replicate draws the images
once and recomputes every RM of every variant from them (a paired bootstrap).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from camrobust.analysis.bootstrap import image_draws, percentile_interval, replicate_sums, support_reason
from camrobust.analysis.totals import image_totals, kendall_tau, noise_mean, rm, set_images
from camrobust.seeding import image_generator

#: A variant's similarity per row of a score table (e.g. r, or (1 + rho) / 2).
Similarity = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class Totals:
    """Per-image totals (n_images, n_noises, n_cams, n_variants, 4) of one (dataset, model)."""

    noises: list[str]
    cams: list[str]
    variants: list[str]
    values: np.ndarray

    def restricted(self, noise: str) -> Totals:
        """The totals of one noise only."""
        index = self.noises.index(noise)
        return Totals([noise], self.cams, self.variants, self.values[:, index : index + 1])


@dataclass(frozen=True)
class Comparison:
    """Per variant: every CAM's score (mean pooled RM over noises), tau against the reference
    variant with its CI, and a note (why a CI is NaN)."""

    rm: pd.DataFrame
    tau: pd.DataFrame
    n_images: int


def collect_totals(tables: Iterable[pd.DataFrame], variants: Mapping[str, Similarity]) -> Totals:
    """The totals of the score tables of one (dataset, model), one (noise, cam) table at a time;
    ``variants`` name each similarity computed from a table's rows."""
    parts: dict[tuple[str, str], pd.DataFrame] = {}
    for table in tables:
        noise, cam = str(table["noise"].iloc[0]), str(table["cam"].iloc[0])
        ids = table["image_id"].astype(str)
        images = pd.Index(sorted(ids.unique()))
        sums = image_totals(ids, table["changed"], {name: f(table) for name, f in variants.items()}, images)
        parts[noise, cam] = pd.DataFrame(sums.reshape(len(images), -1), index=images)
    if not parts:
        raise ValueError("no score tables to rank")
    noises = sorted({noise for noise, _ in parts})
    cams = sorted({cam for _, cam in parts})
    images = pd.Index(sorted(set().union(*(part.index for part in parts.values()))))
    values = np.zeros((len(images), len(noises), len(cams), len(variants), 4))
    for (noise, cam), part in parts.items():
        aligned = part.reindex(images, fill_value=0.0).to_numpy()
        values[:, noises.index(noise), cams.index(cam)] = aligned.reshape(len(images), len(variants), 4)
    return Totals(noises, cams, list(variants), values)


def compare(
    totals: Totals, *, reference: str, n_boot: int, ci: float, min_n: int, seed_key: Sequence[object]
) -> Comparison:
    """Every variant's CAM scores and its tau against ``reference`` (see the module docstring); no
    CI where a set has fewer than ``min_n`` images."""
    ref = totals.variants.index(reference)
    scores = _scores(totals.values.sum(axis=0))  # (n_cams, n_variants)
    taus = kendall_tau(np.repeat(scores[:, ref][None, :], scores.shape[1], axis=0), scores.T)
    same, changed = set_images(totals.values)
    thin = "; ".join(
        text
        for text in (support_reason("images_same", same, min_n), support_reason("images_changed", changed, min_n))
        if text
    )
    intervals = [(np.nan, np.nan)] * len(totals.variants)
    if not thin and n_boot > 0:
        draws = image_draws(totals.values.shape[0], n_boot, image_generator("rankings", *seed_key))
        replicates = _scores(replicate_sums(totals.values, draws), axis=1)  # (n_boot, n_cams, n_variants)
        reference_replicates = replicates[..., ref]
        intervals = [
            percentile_interval(kendall_tau(reference_replicates, replicates[..., index]), ci)
            for index in range(len(totals.variants))
        ]
    rm_table = pd.DataFrame(scores, index=pd.Index(totals.cams, name="cam"), columns=totals.variants)
    tau_table = pd.DataFrame(
        {
            "variant": totals.variants,
            "tau": taus,
            "tau_lo": [low for low, _ in intervals],
            "tau_hi": [high for _, high in intervals],
            "note": f"{thin}: no CI" if thin else "",
        }
    )
    return Comparison(rm_table, tau_table, int(totals.values.shape[0]))


def _scores(summed: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mean over noises (``axis``) of RM from totals summed over images: (..., n_noises, n_cams,
    n_variants, 4) -> (..., n_cams, n_variants)."""
    return noise_mean(rm(summed), axis=axis)


def ranking_text(scores: pd.Series, label: Callable[[str], str]) -> str:
    """'A 0.49 > B 0.46 > C 0.45': the CAMs by descending score (NaN last, as 'n/a'; no '-0.00')."""
    ordered = scores.sort_values(ascending=False, na_position="last")
    return " > ".join(
        f"{label(str(cam))} {round(value, 2) + 0.0:.2f}" if np.isfinite(value) else f"{label(str(cam))} n/a"
        for cam, value in ordered.items()
    )
