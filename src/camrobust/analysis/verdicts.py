"""Which CAM method is the most robust under a noise? A verdict that respects uncertainty.

Per (dataset, model, noise), the CAMs are compared by their pooled RM (all severities). The one
with the highest RM is named the best only where, against every other CAM method,

- its RM exceeds the other's by more than the stated practical threshold
  (``statistics.practical_difference``, RM being unitless in [0, 1]), and
- the paired percentile-bootstrap CI over images of the difference RM_best - RM_other excludes 0
  (every replicate draws the images once and recomputes every CAM's RM from the same images).

Otherwise the verdict says "no meaningful difference between A, B, C", listing the best and
every method within the threshold of it or with a CI that includes 0. Where a set has fewer than
``min_n`` images no interval is drawn and no method is named. Where a baseline map (which explains
nothing) is named or tied with the best, the verdict says so: RM alone was gamed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TypeAlias

import numpy as np
import pandas as pd

from camrobust import registry, vocabulary
from camrobust.analysis.bootstrap import image_draws, percentile_interval, replicate_sums, support_reason
from camrobust.analysis.totals import image_totals, rm, set_images
from camrobust.seeding import image_generator

VERDICT_COLUMNS: tuple[str, ...] = (
    "dataset",
    "model",
    "noise",
    "n_images",
    "images_same",
    "images_changed",
    "best",
    "runner_up",
    "rm_best",
    "rm_runner_up",
    "difference",
    "difference_lo",
    "difference_hi",
    "decided",
    "tied",
    "verdict",
)
"""``best``: the CAM with the highest pooled RM (named in the sentence only where ``decided``);
``difference``: RM_best - RM_runner_up with its paired bootstrap CI; ``tied``: the methods the
verdict does not tell apart from the best (the best first), comma-separated."""
INPUT_COLUMNS: tuple[str, ...] = (*vocabulary.SCORE_KEYS, *vocabulary.PAIR_KEYS, "changed", vocabulary.RBO.name)
Scores: TypeAlias = "pd.DataFrame | str | os.PathLike[str]"


def verdicts(
    scores: Scores, *, practical_difference: float, n_boot: int, ci: float, seed: int, min_n: int
) -> pd.DataFrame:
    """One verdict per (dataset, model, noise) of ``scores`` (a score table or the collected score
    file, read one (dataset, model, noise) at a time): the columns :data:`VERDICT_COLUMNS`."""
    rows = [
        noise_verdict(group, practical_difference=practical_difference, n_boot=n_boot, ci=ci, seed=seed, min_n=min_n)
        for _, group in _groups(scores)
    ]
    return pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))


def noise_verdict(
    group: pd.DataFrame, *, practical_difference: float, n_boot: int, ci: float, seed: int, min_n: int
) -> dict:
    """The verdict of the rows of one (dataset, model, noise), all its CAM methods."""
    dataset, model, noise = (str(group[column].iloc[0]) for column in ("dataset", "model", "noise"))
    images = pd.Index(sorted(group["image_id"].astype(str).unique()))
    cams = sorted(str(cam) for cam in group["cam"].unique())
    per_cam = [group[group["cam"] == cam] for cam in cams]
    totals = np.stack(
        [
            image_totals(rows["image_id"].astype(str), rows["changed"], {"rbo": rows["rbo"].to_numpy()}, images)[:, 0]
            for rows in per_cam
        ],
        axis=1,
    )  # (n_images, n_cams, 4)
    values = rm(totals.sum(axis=0))
    images_same, images_changed = set_images(totals)
    row: dict = {"dataset": dataset, "model": model, "noise": noise, "n_images": len(images)}
    row.update(images_same=images_same, images_changed=images_changed)
    order = sorted((index for index in range(len(cams)) if np.isfinite(values[index])), key=lambda i: -values[i])
    if not order:
        missing = vocabulary.SETS[vocabulary.CHANGING if not images_changed else vocabulary.PRESERVING]
        return _row(row, verdict=f"RM is undefined for every CAM method: no {missing}.")
    best = order[0]
    row.update(best=cams[best], rm_best=float(values[best]))
    if len(order) == 1:
        return _row(row, tied=cams[best], verdict=f"Only {_label(cams[best])} has an RM ({values[best]:.2f}).")
    runner_up = order[1]
    row.update(runner_up=cams[runner_up], rm_runner_up=float(values[runner_up]))
    row["difference"] = float(values[best] - values[runner_up])
    thin = "; ".join(
        reason
        for reason in (
            support_reason("images_same", images_same, min_n),
            support_reason("images_changed", images_changed, min_n),
        )
        if reason
    )
    if thin or n_boot == 0:
        why = thin or "metric.n_bootstrap = 0, no intervals"
        verdict = (
            f"Too few images to name a best CAM method ({why}); highest RM: {_label(cams[best])} ({values[best]:.2f})."
        )
        return _row(row, tied=cams[best], verdict=verdict)
    draws = image_draws(len(images), n_boot, image_generator("verdicts", seed, dataset, model, noise))
    replicates = rm(replicate_sums(totals, draws))  # (n_boot, n_cams)
    intervals = {other: percentile_interval(replicates[:, best] - replicates[:, other], ci) for other in order[1:]}
    row["difference_lo"], row["difference_hi"] = intervals[runner_up]
    behind = [
        other for other in order[1:] if values[best] - values[other] > practical_difference and intervals[other][0] > 0
    ]
    tied = [best, *(other for other in order[1:] if other not in behind)]
    row.update(decided=len(tied) == 1, tied=", ".join(cams[index] for index in tied))
    level = f"{round(100 * ci)}% CI"
    if len(tied) == 1:
        low, high = intervals[runner_up]
        verdict = (
            f"{_label(cams[best])} is the most robust (RM {values[best]:.2f}): ahead of the runner-up "
            f"{_label(cams[runner_up])} by {row['difference']:.2f} ({level} {low:.2f} to {high:.2f}), more than the "
            f"practical threshold {practical_difference:g}; every other method is further behind, each CI excluding 0."
        )
    else:
        names = _names([f"{_label(cams[index])} ({values[index]:.2f})" for index in tied])
        verdict = (
            f"No meaningful difference between {names}: each difference from {_label(cams[best])} is at most "
            f"{practical_difference:g} RM or has a {level} that includes 0."
        )
        if behind:
            verdict += (
                f" {_names([_label(cams[index]) for index in behind])} {'is' if len(behind) == 1 else 'are'} lower."
            )
    return _row(row, verdict=verdict + _baseline_warning([cams[index] for index in tied]))


def _baseline_warning(leaders: Sequence[str]) -> str:
    """A sentence where a baseline map (which explains nothing) leads: RM alone was gamed."""
    baselines = [cam for cam in leaders if cam in registry.BASELINE_CAMS]
    if not baselines:
        return ""
    kind = "is a baseline map that explains" if len(baselines) == 1 else "are baseline maps that explain"
    return (
        f" Warning: {_names([_label(cam) for cam in baselines])} {kind} nothing; RM alone does not earn a CAM "
        "trust here (see Which CAM to trust)."
    )


def _row(row: dict, **values: object) -> dict:
    defaults: dict[str, object] = {column: "" for column in ("best", "runner_up", "tied", "verdict")}
    defaults.update({column: np.nan for column in ("rm_best", "rm_runner_up", "difference")})
    defaults.update({"difference_lo": np.nan, "difference_hi": np.nan, "decided": False})
    return {**defaults, **row, **values}


def _label(cam: str) -> str:
    return registry.cam_label(cam)


def _names(labels: Sequence[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def _groups(scores: Scores) -> Iterator[tuple[tuple, pd.DataFrame]]:
    keys = ["dataset", "model", "noise"]
    if isinstance(scores, pd.DataFrame):
        missing = [column for column in INPUT_COLUMNS if column not in scores.columns]
        if missing:
            raise ValueError(f"scores lack column(s) {', '.join(missing)}")
        for key, group in scores.groupby(keys, sort=True):
            yield key if isinstance(key, tuple) else (key,), group
        return
    from camrobust.io.tables import read_score_groups

    yield from read_score_groups(scores, keys, INPUT_COLUMNS)
