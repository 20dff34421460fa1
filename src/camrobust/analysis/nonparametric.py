"""The rank tests of camrobust on tables of one value per image: numbers, effect sizes and their
bootstrap CIs over images.

Every function takes images as its subjects (rows) and returns a frozen result with ``n`` (images),
the statistic, p, the effect size with its percentile-bootstrap CI over images
(:mod:`camrobust.analysis.bootstrap`) and a ``note``: "" or why a number is NaN. A test that
cannot run returns NaN numbers and a note, never an exception. Below ``min_n`` images the
intervals are NaN and the note says so.

- :func:`friedman`: Friedman's test over k levels (subjects x levels, higher = better), Kendall's
  W, average ranks (1 = best), Nemenyi p-values and the critical difference. With R_j the rank sums
  over n subjects and T = sum over subjects and tie groups of (t³ - t)::

      W = (12 sum_j R_j² - 3 n² k (k+1)²) / (n² k (k² - 1) - n T),   Q = n (k - 1) W,  p = P(chi²_{k-1} > Q)
      Nemenyi: p_ij = P(q_{k,inf} > |Rbar_i - Rbar_j| sqrt(2) / sqrt(k (k+1) / (6 n)))
      CD = q_{alpha,k,inf} / sqrt(2) * sqrt(k (k+1) / (6 n))

- :func:`wilcoxon`: the signed-rank test of paired values (scipy, two-sided, zero differences
  dropped), the median paired difference a - b and the matched-pairs rank-biserial correlation
  r = (R+ - R-) / (R+ + R-), R± the rank sums of the positive / negative differences;
- :func:`kruskal`: Kruskal-Wallis across independent groups of images, epsilon² = H / (n - 1)
  (the bootstrap resamples images within each group);
- :func:`page_trend`: Page's L test of a falling trend over ordered levels (the first level
  predicted highest), effect size the mean over images of the Spearman rho between level and
  value (rho = 0 for an image whose values are all equal, as Page's ranks treat it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from camrobust.analysis.bootstrap import (
    image_draws,
    percentile_interval,
    replicate_statistic,
    replicate_sums,
    support_reason,
)
from camrobust.seeding import image_generator

NAN_INTERVAL = (np.nan, np.nan)


@dataclass(frozen=True)
class Bootstrap:
    """How intervals are drawn: ``n_boot`` replicates, level ``ci``, none below ``min_n`` images;
    ``key`` (with ``seed``) seeds the generator of one test."""

    n_boot: int
    ci: float
    min_n: int
    seed: int
    key: tuple = ()

    def keyed(self, *key: object) -> Bootstrap:
        return Bootstrap(self.n_boot, self.ci, self.min_n, self.seed, (*self.key, *key))

    def draws(self, n_images: int) -> np.ndarray | None:
        """The replicates' image draws, or None where no interval is drawn (n_boot 0, too few images)."""
        if self.n_boot == 0 or n_images < self.min_n:
            return None
        return image_draws(n_images, self.n_boot, image_generator("statistics_bootstrap", self.seed, *self.key))

    def thin(self, n_images: int) -> str:
        """Why no interval is drawn for ``n_images`` images ("" where one is)."""
        reason = support_reason("n", n_images, self.min_n)
        return f"{reason}: no CI" if reason else ""


@dataclass(frozen=True)
class Friedman:
    """Friedman's test over the levels (columns) of a subjects x levels table; see the module docstring."""

    n: int
    k: int
    statistic: float = np.nan
    p: float = np.nan
    w: float = np.nan
    w_interval: tuple[float, float] = NAN_INTERVAL
    ranks: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    nemenyi: pd.DataFrame = field(default_factory=pd.DataFrame)
    critical_difference: float = np.nan
    alpha: float = 0.05
    note: str = ""


@dataclass(frozen=True)
class Paired:
    """A two-level paired comparison: Wilcoxon W, p, the rank-biserial r and the median difference a - b."""

    n: int
    statistic: float = np.nan
    p: float = np.nan
    effect: float = np.nan
    effect_interval: tuple[float, float] = NAN_INTERVAL
    difference: float = np.nan
    difference_interval: tuple[float, float] = NAN_INTERVAL
    note: str = ""


@dataclass(frozen=True)
class Omnibus:
    """A test with one statistic, p and effect size (Kruskal-Wallis, Page's L)."""

    n: int
    k: int
    statistic: float = np.nan
    p: float = np.nan
    effect: float = np.nan
    effect_interval: tuple[float, float] = NAN_INTERVAL
    note: str = ""


def join(*notes: str) -> str:
    """The non-empty notes joined by "; "."""
    return "; ".join(note for note in notes if note)


# --- Friedman, Kendall's W, Nemenyi ------------------------------------------------------------


def friedman(blocks: pd.DataFrame, bootstrap: Bootstrap, *, alpha: float = 0.05, levels: str = "levels") -> Friedman:
    """Friedman's test, Kendall's W with its CI, average ranks (1 = highest value = best), Nemenyi
    p-values and the critical difference at ``alpha``, with the images (rows) of ``blocks`` as
    subjects. ``levels`` names the columns in notes ("CAM methods")."""
    n, k = blocks.shape
    columns = [str(column) for column in blocks.columns]
    values = blocks.to_numpy(dtype=np.float64)
    blocker = _friedman_blocker(values, levels)
    if blocker:
        return Friedman(n, k, alpha=alpha, note=blocker, ranks=pd.Series(np.nan, index=columns, name="average_rank"))
    per_row = _rank_rows(values)
    statistic_w = _kendall_w(per_row.sum(axis=0), n, k)
    statistic_q = n * (k - 1) * statistic_w
    draws = bootstrap.draws(n)
    interval = (
        percentile_interval(_kendall_w(replicate_sums(per_row, draws).T, n, k), bootstrap.ci)
        if draws is not None
        else NAN_INTERVAL
    )
    average = pd.Series(scipy_stats.rankdata(-values, axis=1).mean(axis=0), index=columns, name="average_rank")
    return Friedman(
        n=n,
        k=k,
        statistic=float(statistic_q),
        p=float(scipy_stats.chi2.sf(statistic_q, k - 1)),
        w=float(statistic_w),
        w_interval=interval,
        ranks=average,
        nemenyi=nemenyi(average, n),
        critical_difference=critical_difference(k, n, alpha),
        alpha=alpha,
        note=bootstrap.thin(n),
    )


def _friedman_blocker(values: np.ndarray, levels: str) -> str:
    n, k = values.shape
    if k < 2:
        return f"fewer than 2 {levels} (k={k})"
    if n < 2:
        return f"fewer than 2 complete subjects (n={n})"
    if (np.ptp(values, axis=1) == 0).all():
        return "all values equal within every subject"
    return ""


def _rank_rows(values: np.ndarray) -> np.ndarray:
    """Per subject: the k within-row ranks (average for ties) and the row's tie term sum (t³ - t)."""
    ranks = scipy_stats.rankdata(values, axis=1)
    ties = np.array([_tie_term(row) for row in ranks])
    return np.column_stack([ranks, ties])


def _tie_term(ranks: np.ndarray) -> float:
    _, counts = np.unique(ranks, return_counts=True)
    return float((counts.astype(np.float64) ** 3 - counts).sum())


def _kendall_w(sums: np.ndarray, n: int, k: int) -> np.ndarray:
    """Tie-corrected W from summed rows of :func:`_rank_rows` (the last entry the tie term);
    works on (k + 1,) or (k + 1, replicates)."""
    rank_sums, ties = sums[:k], sums[k]
    numerator = 12.0 * (rank_sums**2).sum(axis=0) - 3.0 * n**2 * k * (k + 1) ** 2
    denominator = n**2 * k * (k**2 - 1) - n * ties
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def nemenyi(average_ranks: pd.Series, n: int) -> pd.DataFrame:
    """Nemenyi p-values (levels x levels, 1 on the diagonal) of average ranks over n subjects."""
    k = len(average_ranks)
    ranks = average_ranks.to_numpy(dtype=np.float64)
    q = np.abs(ranks[:, None] - ranks[None, :]) / np.sqrt(k * (k + 1.0) / (6.0 * n))
    p = scipy_stats.studentized_range.sf(q * np.sqrt(2.0), k, np.inf)
    np.fill_diagonal(p, 1.0)
    return pd.DataFrame(p, index=average_ranks.index, columns=average_ranks.index)


def critical_difference(k: int, n: int, alpha: float) -> float:
    """Nemenyi's critical difference of average ranks of k levels over n subjects at ``alpha``."""
    if k < 2 or n < 1:
        return np.nan
    q_alpha = scipy_stats.studentized_range.ppf(1 - alpha, k, np.inf)
    return float(q_alpha / np.sqrt(2.0) * np.sqrt(k * (k + 1.0) / (6.0 * n)))


# --- Wilcoxon signed-rank ------------------------------------------------------------------------


def wilcoxon(first: np.ndarray, second: np.ndarray, bootstrap: Bootstrap) -> Paired:
    """Wilcoxon signed-rank test of paired values per image (two-sided, scipy's default: zero
    differences dropped, exact or normal approximation by n), the rank-biserial r and the median
    difference ``first - second``, each with its bootstrap CI over images."""
    difference = np.asarray(first, dtype=np.float64) - np.asarray(second, dtype=np.float64)
    n = len(difference)
    if n < 2:
        return Paired(n, note=f"fewer than 2 complete subjects (n={n})")
    median = float(np.median(difference))
    if not np.any(difference):
        return Paired(n, difference=median, note="all paired differences are zero")
    result = scipy_stats.wilcoxon(first, second)
    draws = bootstrap.draws(n)
    effect_interval = difference_interval = NAN_INTERVAL
    if draws is not None:
        effect_interval = percentile_interval(replicate_statistic(_rank_biserial, difference, draws), bootstrap.ci)
        medians = replicate_statistic(lambda drawn: np.median(drawn, axis=1), difference, draws)
        difference_interval = percentile_interval(medians, bootstrap.ci)
    return Paired(
        n=n,
        statistic=float(result.statistic),
        p=float(result.pvalue),
        effect=float(_rank_biserial(difference[None, :])[0]),
        effect_interval=effect_interval,
        difference=median,
        difference_interval=difference_interval,
        note=bootstrap.thin(n),
    )


def _rank_biserial(differences: np.ndarray) -> np.ndarray:
    """r = (R+ - R-) / (R+ + R-) per row of (replicates, n) differences, zeros dropped; NaN for a
    row of zeros."""
    magnitude = np.abs(differences)
    ranks = scipy_stats.rankdata(np.where(differences == 0, np.nan, magnitude), axis=1, nan_policy="omit")
    ranks = np.nan_to_num(ranks)
    signed = (np.sign(differences) * ranks).sum(axis=1)
    total = ranks.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, signed / total, np.nan)


# --- Kruskal-Wallis ------------------------------------------------------------------------------


def kruskal(values: Sequence[np.ndarray], bootstrap: Bootstrap) -> Omnibus:
    """Kruskal-Wallis H across independent groups of per-image ``values`` (scipy, tie-corrected)
    and epsilon² = H / (n - 1); the CI resamples images within each group."""
    groups = [np.asarray(group, dtype=np.float64) for group in values]
    n, k = sum(len(group) for group in groups), len(groups)
    if k < 2:
        return Omnibus(n, k, note=f"fewer than 2 groups (k={k})")
    if n <= k:
        return Omnibus(n, k, note=f"too few images (n={n}) for {k} groups")
    pooled = np.concatenate(groups)
    if np.ptp(pooled) == 0:
        return Omnibus(n, k, note="all values equal")
    result = scipy_stats.kruskal(*groups)
    interval = NAN_INTERVAL
    smallest = min(len(group) for group in groups)
    if bootstrap.n_boot and smallest >= bootstrap.min_n:
        drawn = []
        for index, group in enumerate(groups):
            draws = bootstrap.keyed(index).draws(len(group))
            assert draws is not None  # every group has at least min_n images
            drawn.append(group[draws])
        labels = np.concatenate([np.full(len(group), index) for index, group in enumerate(groups)])
        interval = percentile_interval(_kruskal_h(np.concatenate(drawn, axis=1), labels, k) / (n - 1), bootstrap.ci)
    note = support_reason("smallest group", smallest, bootstrap.min_n)
    return Omnibus(
        n=n,
        k=k,
        statistic=float(result.statistic),
        p=float(result.pvalue),
        effect=float(result.statistic) / (n - 1),
        effect_interval=interval,
        note=f"{note}: no CI" if note else "",
    )


def _kruskal_h(samples: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Tie-corrected H of each row of (replicates, n) pooled samples with group ``labels`` (n,)."""
    n = samples.shape[1]
    ranks = scipy_stats.rankdata(samples, axis=1)
    sizes = np.bincount(labels, minlength=k).astype(np.float64)
    sums = np.stack([ranks[:, labels == group].sum(axis=1) for group in range(k)], axis=1)
    h = 12.0 / (n * (n + 1)) * (sums**2 / sizes).sum(axis=1) - 3.0 * (n + 1)
    ties = np.array([_tie_term(row) for row in ranks])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ties < n**3 - n, h / (1.0 - ties / (n**3 - n)), np.nan)


# --- Page's L trend test -------------------------------------------------------------------------


def page_trend(blocks: pd.DataFrame, bootstrap: Bootstrap) -> Omnibus:
    """Page's L test that the values fall along the ordered columns of ``blocks`` (subjects x
    ordered levels; scipy, exact for small tables), and the mean per-image Spearman rho between
    level order and value with its CI (negative = falling)."""
    n, k = blocks.shape
    if k < 3:
        return Omnibus(n, k, note=f"Page's L test needs at least 3 ordered severities (k={k})")
    if n < 2:
        return Omnibus(n, k, note=f"fewer than 2 complete subjects (n={n})")
    values = blocks.to_numpy(dtype=np.float64)
    if (np.ptp(values, axis=1) == 0).all():
        return Omnibus(n, k, note="all values equal within every subject")
    result = scipy_stats.page_trend_test(values, predicted_ranks=list(range(k, 0, -1)))
    rho = _row_spearman(values)
    draws = bootstrap.draws(n)
    interval = percentile_interval(replicate_sums(rho, draws) / n, bootstrap.ci) if draws is not None else NAN_INTERVAL
    return Omnibus(
        n=n,
        k=k,
        statistic=float(result.statistic),
        p=float(result.pvalue),
        effect=float(rho.mean()),
        effect_interval=interval,
        note=bootstrap.thin(n),
    )


def _row_spearman(values: np.ndarray) -> np.ndarray:
    """Spearman rho between column order and each row's values; 0 for a row of equal values."""
    k = values.shape[1]
    ranks = scipy_stats.rankdata(values, axis=1)
    order = np.arange(1, k + 1, dtype=np.float64)
    centred, order_centred = ranks - ranks.mean(axis=1, keepdims=True), order - order.mean()
    spread = np.sqrt((centred**2).sum(axis=1) * (order_centred**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(spread > 0, (centred * order_centred).sum(axis=1) / spread, 0.0)


def nemenyi_groups(average_ranks: pd.Series, pvalues: pd.DataFrame, alpha: float) -> list[list[str]]:
    """The groups of levels a critical-difference diagram joins with a bar: maximal runs of levels,
    in rank order, every two of which do not differ (Nemenyi p >= ``alpha``). Levels with equal
    ranks (p = 1) always share a group; a level alone in no group differs from all others."""
    order = sorted(average_ranks.index, key=lambda name: (average_ranks[name], str(name)))
    spans: list[tuple[int, int]] = []
    for start in range(len(order)):
        end = start
        while end + 1 < len(order) and all(
            pvalues.loc[order[i], order[end + 1]] >= alpha for i in range(start, end + 1)
        ):
            end += 1
        if end > start and not any(s <= start and end <= e for s, e in spans):
            spans.append((start, end))
    return [[str(name) for name in order[start : end + 1]] for start, end in spans]
