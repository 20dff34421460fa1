"""The trust summary: every axis of :data:`camrobust.vocabulary.AXES` side by side, per CAM.

``trust.csv`` has one row per (dataset, model, cam) and, per score s present, the columns ``s``,
``s_lo``, ``s_hi`` (the estimate and its percentile-bootstrap CI over images), ``s_better``
("higher" or "lower") and ``s_rank`` (1 = best among the CAMs of that dataset and model, ties
share the best rank). Per axis a, ``a_rank`` ranks the CAMs by their mean rank over the axis'
scores. Estimates:

- robustness: the pooled RM = C x R over every noise and severity of the CAM's score tables
  (:func:`camrobust.analysis.robustness.robustness_table`, images resampled with all their pairs);
- faithfulness and localisation: the mean over images of each per-image score, x_bar = sum_i x_i / n
  over the n images where it is defined, its CI the quantiles of the means of n images drawn with
  replacement (:mod:`camrobust.analysis.bootstrap`; none below ``min_n`` images);
- model dependence (where the model randomisation runs): the similarities of each CAM to the fully
  randomised model's CAM, lower = better (:func:`full_randomisation`);
- worst case (where the explanation attack runs): C over the attack's pairs at every budget
  (:func:`worst_case_consistency`); RM above leaves the attack's rows out, since they are a worst
  case and not a sample of noise.

A part is any frame keyed by (dataset, model, cam) with estimate columns, so further axes join
the summary as further parts (:func:`trust_summary`). Per score the CAMs are compared by
Friedman's test and Nemenyi's post-hoc test with the images as subjects (:func:`trust_tests`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from camrobust import vocabulary
from camrobust.analysis.bootstrap import image_draws, percentile_interval, replicate_sums, support_reason
from camrobust.analysis.nonparametric import Bootstrap, friedman
from camrobust.analysis.robustness import robustness_table
from camrobust.registry import BASELINE_CAMS
from camrobust.seeding import image_generator
from camrobust.vocabulary import Score

TRUST_KEYS: tuple[str, ...] = ("dataset", "model", "cam")
"""Key columns of the trust summary, in its sort order."""
NOISE_KEYS: tuple[str, ...] = ("dataset", "model", "cam", "condition", "severity")
"""Key columns of the localisation-under-noise table."""
TEST_COLUMNS: tuple[str, ...] = (
    "dataset",
    "model",
    "axis",
    "score",
    "better",
    "n",
    "k",
    "statistic",
    "p",
    "kendall_w",
    "kendall_w_lo",
    "kendall_w_hi",
    "critical_difference",
    "best",
    "not_different",
    "note",
)
"""Columns of the trust tests (``results/statistics/trust.csv``): one Friedman test per score."""
PAIR_COLUMNS: tuple[str, ...] = (
    "dataset",
    "model",
    "axis",
    "score",
    "a",
    "b",
    "rank_a",
    "rank_b",
    "p_nemenyi",
    "significant",
)
"""Columns of the Nemenyi comparisons (``results/statistics/trust_pairwise.csv``)."""


def trust_scores() -> tuple[Score, ...]:
    """Every score of the trust axes, in axis order."""
    return tuple(score for axis in vocabulary.AXES for score in axis.scores)


def mean_interval(values: np.ndarray, *, n_boot: int, ci: float, min_n: int, key: Sequence[object], seed: int) -> dict:
    """Mean of the finite ``values`` (one per image), its percentile-bootstrap CI over them and
    their number ``n``; the CI is NaN below ``min_n`` values (``note`` says why) or with ``n_boot`` 0."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    n = len(finite)
    estimate = float(finite.mean()) if n else np.nan
    note = support_reason("n", n, min_n)
    low, high = np.nan, np.nan
    if n and not note and n_boot > 0:
        draws = image_draws(n, n_boot, image_generator("trust_bootstrap", seed, *key))
        low, high = percentile_interval(replicate_sums(finite, draws) / n, ci)
    return {"value": estimate, "lo": low, "hi": high, "n": n, "note": note}


def score_estimates(
    tables: Iterable[pd.DataFrame],
    scores: Sequence[Score],
    by: Sequence[str] = TRUST_KEYS,
    *,
    n_boot: int,
    ci: float,
    min_n: int,
    seed: int,
) -> pd.DataFrame:
    """Per group of ``by`` in ``tables`` (per-image tables, one or more groups each): every score's
    mean over images with its CI (:func:`mean_interval`), as columns ``s``, ``s_lo``, ``s_hi``,
    and ``n_images`` (the most images any score rests on) and ``note``."""
    rows = []
    for table in tables:
        for key, group in table.groupby(list(by), sort=True):
            key = key if isinstance(key, tuple) else (key,)
            row: dict = dict(zip(by, key, strict=True))
            counts, notes = [], []
            for score in scores:
                found = mean_interval(
                    group[score.name].to_numpy(), n_boot=n_boot, ci=ci, min_n=min_n, key=(*key, score.name), seed=seed
                )
                row |= {score.name: found["value"], f"{score.name}_lo": found["lo"], f"{score.name}_hi": found["hi"]}
                counts.append(found["n"])
                notes.append(found["note"])
            rows.append(
                {**row, "n_images": max(counts, default=0), "note": "; ".join(sorted(set(filter(None, notes))))}
            )
    columns = [*by, *(f"{s.name}{end}" for s in scores for end in ("", "_lo", "_hi")), "n_images", "note"]
    return pd.DataFrame(rows, columns=columns).sort_values(list(by), ignore_index=True)


def pooled_robustness(
    groups: Iterable[tuple[tuple, pd.DataFrame]], *, n_boot: int, ci: float, min_n: int, seed: int
) -> pd.DataFrame:
    """Pooled RM with its CI per (dataset, model, cam) from the score rows of each key (every noise
    and severity together): columns ``rm``, ``rm_lo``, ``rm_hi``."""
    parts = [
        robustness_table(rows, list(TRUST_KEYS), n_boot=n_boot, seed=seed, ci=ci, min_n=min_n) for _, rows in groups
    ]
    rm = vocabulary.RM.name
    columns = [*TRUST_KEYS, rm, f"{rm}_lo", f"{rm}_hi"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def worst_case_consistency(
    groups: Iterable[tuple[tuple, pd.DataFrame]], *, n_boot: int, ci: float, min_n: int, seed: int
) -> pd.DataFrame:
    """Worst-case C with its CI per (dataset, model, cam) from the explanation attack's score rows
    of each key (every budget together; the attack keeps the class, so every pair is
    class-preserving): C = mean r over the pairs, images resampled with all their pairs. Columns
    ``worst_case_consistency``, ``_lo``, ``_hi``."""
    name, c = vocabulary.WORST_CASE_CONSISTENCY.name, vocabulary.CONSISTENCY.name
    parts = [
        robustness_table(rows, list(TRUST_KEYS), n_boot=n_boot, seed=seed, ci=ci, min_n=min_n) for _, rows in groups
    ]
    columns = [*TRUST_KEYS, name, f"{name}_lo", f"{name}_hi"]
    if not parts:
        return pd.DataFrame(columns=columns)
    table = pd.concat(parts, ignore_index=True)
    renamed = {c: name, f"{c}_lo": f"{name}_lo", f"{c}_hi": f"{name}_hi"}
    return table.rename(columns=renamed)[columns]


def full_randomisation(table: pd.DataFrame, cams: Iterable[str]) -> pd.DataFrame:
    """The model randomisation's similarities at full randomisation (the last stage) per (dataset,
    model, cam) of the randomisation summary ``table``, as the :data:`camrobust.vocabulary.RANDOMISATION`
    columns with their CIs; each baseline map among ``cams`` gets similarity 1 (its map does not
    read the model's weights), without an interval."""
    per_stage = ("rbo", "pixel_spearman", "ssim")  # the randomisation table's columns, in RANDOMISATION's order
    renamed = {
        f"{old}{end}": f"{score.name}{end}"
        for old, score in zip(per_stage, vocabulary.RANDOMISATION, strict=True)
        for end in ("", "_lo", "_hi")
    }
    last = table[table["full_randomisation"].astype(bool)].rename(columns=renamed)[[*TRUST_KEYS, *renamed.values()]]
    experiments = table[["dataset", "model"]].drop_duplicates()
    baselines = [cam for cam in dict.fromkeys(cams) if cam in BASELINE_CAMS]
    ones = experiments.merge(pd.DataFrame({"cam": baselines}), how="cross")
    for score in vocabulary.RANDOMISATION:
        ones[score.name] = 1.0
    return pd.concat([last, ones], ignore_index=True).sort_values(list(TRUST_KEYS), ignore_index=True)


def rank_within(values: pd.Series, groups: pd.Series, higher_is_better: bool) -> pd.Series:
    """Rank (1 = best, ties share the best rank, NaN stays NaN) of ``values`` within each group."""
    return values.groupby(groups.to_numpy()).rank(ascending=not higher_is_better, method="min")


def trust_summary(parts: Sequence[pd.DataFrame], scores: Sequence[Score] | None = None) -> pd.DataFrame:
    """One row per (dataset, model, cam) of the outer join of the ``parts`` (frames keyed by
    :data:`TRUST_KEYS`), with ``baseline`` (a baseline map?), per score present its ``_better``
    and ``_rank`` columns and per axis with a score present its ``_rank`` (module docstring).
    ``scores``: those to rank (default :func:`trust_scores`)."""
    keys = list(TRUST_KEYS)
    table = pd.DataFrame(columns=keys)
    for part in parts:
        table = table.merge(part.drop(columns=["note", "n_images"], errors="ignore"), on=keys, how="outer")
    table = table.sort_values(keys, ignore_index=True)
    table.insert(3, "baseline", table["cam"].isin(BASELINE_CAMS))
    experiment = table["dataset"].astype(str) + "\0" + table["model"].astype(str)
    present = [score for score in (scores or trust_scores()) if score.name in table.columns]
    for score in present:
        table[f"{score.name}_better"] = "higher" if score.higher_is_better else "lower"
        table[f"{score.name}_rank"] = rank_within(table[score.name].astype(float), experiment, score.higher_is_better)
    for axis in vocabulary.AXES:
        ranks = [f"{score.name}_rank" for score in axis.scores if score in present]
        if ranks:
            table[f"{axis.name}_rank"] = rank_within(table[ranks].mean(axis=1, skipna=False), experiment, False)
    return table


def localisation_under_noise(
    tables: Iterable[pd.DataFrame], *, n_boot: int, ci: float, min_n: int, seed: int
) -> pd.DataFrame:
    """Per (dataset, model, cam, condition, severity): each localisation score's mean over images
    with its CI, the clean images first (condition ``clean``, severity 0)."""
    frame = score_estimates(tables, vocabulary.LOCALISATION, NOISE_KEYS, n_boot=n_boot, ci=ci, min_n=min_n, seed=seed)
    frame["_clean"] = frame["condition"] != "clean"
    return frame.sort_values(["dataset", "model", "cam", "_clean", "condition", "severity"], ignore_index=True).drop(
        columns="_clean"
    )


def image_blocks(table: pd.DataFrame, score: Score) -> pd.DataFrame:
    """Images x CAMs of one (dataset, model)'s per-image ``table``: the score, negated where lower
    is better (so that higher = better for the rank tests), complete images only."""
    values = table.pivot_table(index="image_id", columns="cam", values=score.name, aggfunc="first", dropna=False)
    values = values.dropna(axis=0, how="any")
    return values if score.higher_is_better else -values


def trust_tests(
    tables: Iterable[pd.DataFrame], *, alpha: float, n_boot: int, ci: float, min_n: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tests, pairs): per (dataset, model) of the per-image ``tables`` (the faithfulness tables and
    the clean localisation rows, one (dataset, model) or more each) and per score they hold,
    Friedman's test across the CAMs with the images as subjects, Kendall's W with its CI, the
    best CAM (lowest average rank) and those whose Nemenyi p-value against it is >= ``alpha``
    (``not_different``); and every pair's Nemenyi p-value."""
    tests, pairs = [], []
    for table in tables:
        for (dataset, model), group in table.groupby(["dataset", "model"], sort=True):
            for score in trust_scores():
                if score.name not in group.columns:
                    continue
                axis = vocabulary.axis_of(score.name).name
                blocks = image_blocks(group, score)
                bootstrap = Bootstrap(n_boot, ci, min_n, seed, ("trust", dataset, model, score.name))
                result = friedman(blocks, bootstrap, alpha=alpha, levels="CAM methods")
                keys = {"dataset": dataset, "model": model, "axis": axis, "score": score.name}
                ranks = result.ranks.dropna()
                best = str(ranks.idxmin()) if len(ranks) else ""
                close = []
                if best and not result.nemenyi.empty:
                    close = sorted(c for c in ranks.index if c != best and result.nemenyi.loc[best, c] >= alpha)
                    for a in ranks.index:
                        for b in ranks.index:
                            if str(a) < str(b):
                                p = float(result.nemenyi.loc[a, b])
                                pairs.append(
                                    {
                                        **keys,
                                        "a": a,
                                        "b": b,
                                        "rank_a": float(ranks[a]),
                                        "rank_b": float(ranks[b]),
                                        "p_nemenyi": p,
                                        "significant": p < alpha,
                                    }
                                )
                low, high = result.w_interval
                tests.append(
                    {
                        **keys,
                        "better": "higher" if score.higher_is_better else "lower",
                        "n": result.n,
                        "k": result.k,
                        "statistic": result.statistic,
                        "p": result.p,
                        "kendall_w": result.w,
                        "kendall_w_lo": low,
                        "kendall_w_hi": high,
                        "critical_difference": result.critical_difference,
                        "best": best,
                        "not_different": " ".join(close),
                        "note": result.note,
                    }
                )
    return pd.DataFrame(tests, columns=list(TEST_COLUMNS)), pd.DataFrame(pairs, columns=list(PAIR_COLUMNS))
