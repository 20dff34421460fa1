"""Statistical tests on the score table, with the image as the subject: do CAM methods, noise
types and datasets differ, and does r fall with severity?

Each test runs on one value per image (:mod:`camrobust.analysis.blocks`): per severity, and
pooled over severities (``severity == "all"``: each image's mean over its complete blocks), so an
image seen at three severities is one subject. The numbers come from
:mod:`camrobust.analysis.nonparametric`.

Every family takes the score table in memory or the path of the collected score file
(``results/summary/scores.parquet``), which it reads one group of the family at a time, and
returns a tidy frame with exactly the columns :data:`STATS_COLUMNS`:

- ``family``: cam_method, cam_method_pairwise, dataset, noise_type or severity_trend;
- ``test``: friedman, wilcoxon, kruskal or page;
- ``dataset``, ``model``, ``noise``, ``cam``: the group keys ("" where the column is the factor
  compared, or not a key of that family);
- ``set``: "preserving" (value r on class-preserving pairs), "changing" (value 1 - r on
  class-changing pairs) or "all" (value r on all pairs);
- ``severity``: the severity tested, "all" for the pooled row, "" for the trend (it spans them);
- ``a``, ``b``: the two levels of a pairwise test ("" otherwise);
- ``n``: images (subjects); ``k``: levels compared (Page: ordered severities);
- ``statistic``: Friedman Q, Wilcoxon W, Kruskal-Wallis H, Page's L; ``p``;
- ``p_corr``: Holm-corrected p within the row's family: the rows of one (dataset, model, noise,
  set) across severities for cam_method, and across pairs and severities for
  cam_method_pairwise; one (dataset, model, cam, set) across severities for noise_type; one
  (model, cam) across severities for dataset; every row of the file for severity_trend;
- ``effect_size`` with its bootstrap CI over images (``effect_size_lo``, ``effect_size_hi``) and
  ``effect_size_name``: Kendall's W (Friedman, tie-corrected), the matched-pairs rank-biserial
  correlation (Wilcoxon), epsilon² = H / (n - 1) (Kruskal-Wallis), the mean per-image Spearman
  rho of r with severity (Page);
- ``difference`` with its bootstrap CI (``difference_lo``, ``difference_hi``): the median paired
  difference a - b of a pairwise row (NaN elsewhere);
- ``note``: "" or why a test could not run (its numbers are then NaN), which pairs or images were
  left out, or why an interval is NaN (fewer than ``min_n`` images).

:func:`mark_significant` adds a nullable boolean ``significant`` (p_corr < alpha, <NA> where
the test did not run) for the report tables.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from itertools import combinations
from typing import TypeAlias

import numpy as np
import pandas as pd

from camrobust import vocabulary
from camrobust.analysis import blocks as blocking
from camrobust.analysis.nonparametric import (
    Bootstrap,
    Friedman,
    Omnibus,
    Paired,
    friedman,
    join,
    kruskal,
    page_trend,
    wilcoxon,
)

STATS_COLUMNS: tuple[str, ...] = (
    "family",
    "test",
    "dataset",
    "model",
    "noise",
    "cam",
    "set",
    "severity",
    "a",
    "b",
    "n",
    "k",
    "statistic",
    "p",
    "p_corr",
    "effect_size",
    "effect_size_lo",
    "effect_size_hi",
    "effect_size_name",
    "difference",
    "difference_lo",
    "difference_hi",
    "note",
)
INPUT_COLUMNS: tuple[str, ...] = (*vocabulary.SCORE_KEYS, *vocabulary.PAIR_KEYS, "changed", vocabulary.RBO.name)
"""The score-table columns the tests read."""
SETS: tuple[str, ...] = tuple(vocabulary.SETS)
FAMILY_KEYS: dict[str, list[str]] = {
    "cam_method": ["dataset", "model", "noise", "set"],
    "cam_method_pairwise": ["dataset", "model", "noise", "set"],
    "noise_type": ["dataset", "model", "cam", "set"],
    "dataset": ["model", "cam"],
    "severity_trend": [],
}
"""The columns whose values make one Holm family of each test family ([] = the whole file)."""
_FLOATS: tuple[str, ...] = ("statistic", "p", "p_corr", "effect_size", "effect_size_lo", "effect_size_hi")
_FLOATS += ("difference", "difference_lo", "difference_hi")
#: A score table in memory, or the path of a collected score file (``results/summary/scores.parquet``).
Scores: TypeAlias = "pd.DataFrame | str | os.PathLike[str]"


# --- public tests ----------------------------------------------------------------------------


def cam_methods(
    scores: Scores, *, n_boot: int = 1000, ci: float = 0.95, min_n: int = 10, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """CAM methods differ? Per (dataset, model, noise), set and severity (and pooled): Friedman
    over CAMs with images as blocks, and a Wilcoxon signed-rank test for every pair of CAMs."""
    omnibus, pairwise = [], []
    for key, group in _groups(scores, ["dataset", "model", "noise"]):
        keys = dict(zip(("dataset", "model", "noise"), key, strict=True))
        for set_name in SETS:
            for severity in _levels(group):
                values, note = blocking.level_blocks(group, "cam", set_name, severity)
                label = _severity_label(severity)
                bootstrap = Bootstrap(n_boot, ci, min_n, seed, ("cam_methods", *key, set_name, label))
                result = friedman(values, bootstrap, levels="CAM methods")
                omnibus.append(_friedman_row("cam_method", keys, set_name, label, result, note))
                for first, second in combinations(values.columns, 2):
                    paired = wilcoxon(
                        values[first].to_numpy(), values[second].to_numpy(), bootstrap.keyed(first, second)
                    )
                    pairwise.append(_paired_row(keys, set_name, label, (first, second), paired))
    return _frame(omnibus), _frame(pairwise)


def cam_ranking(
    scores: pd.DataFrame,
    *,
    dataset: str,
    model: str,
    noise: str,
    set_name: str = vocabulary.PRESERVING,
    severity: int | None = None,
    alpha: float = 0.05,
) -> Friedman:
    """Average rank per CAM (1 = best = highest value), Nemenyi p-values, N (images) and the
    critical difference at ``alpha``, for a critical-difference diagram: images as blocks as in
    :func:`cam_methods`, pooled over severities unless ``severity`` is given."""
    _check_scores(scores)
    if set_name not in SETS:
        raise ValueError(f"unknown set {set_name!r}; allowed: {', '.join(SETS)}")
    chosen = (scores["dataset"] == dataset) & (scores["model"] == model) & (scores["noise"] == noise)
    if not chosen.any():
        raise ValueError(f"no scores for dataset={dataset!r}, model={model!r}, noise={noise!r}")
    values, _ = blocking.level_blocks(scores[chosen], "cam", set_name, severity)
    if values.shape[1] == 0:
        values = pd.DataFrame(columns=sorted(scores.loc[chosen, "cam"].astype(str).unique()), dtype=float)
    return friedman(values, Bootstrap(0, 0.95, 1, 0), alpha=alpha, levels="CAM methods")


def datasets(scores: Scores, *, n_boot: int = 1000, ci: float = 0.95, min_n: int = 10, seed: int = 0) -> pd.DataFrame:
    """Datasets differ? Per (model, cam) and severity (and pooled): Kruskal-Wallis across datasets
    on each image's consistency (its mean r over its class-preserving pairs, over noises)."""
    rows = []
    for key, group in _groups(scores, ["model", "cam"]):
        keys = dict(zip(("model", "cam"), key, strict=True))
        compared = sorted(str(name) for name in group["dataset"].unique())
        for severity in _levels(group):
            means = blocking.preserving_means(group, severity)
            present = sorted(str(name) for name in means.index.get_level_values("dataset").unique())
            label = _severity_label(severity)
            bootstrap = Bootstrap(n_boot, ci, min_n, seed, ("datasets", *key, label))
            result = kruskal([means.xs(name, level="dataset").to_numpy() for name in present], bootstrap)
            missing = sorted(set(compared) - set(present))
            left_out = f"dataset(s) without class-preserving images left out: {', '.join(missing)}" if missing else ""
            rows.append(_omnibus_row("dataset", "kruskal", keys, vocabulary.PRESERVING, label, result, left_out))
    return _frame(rows)


def noise_types(
    scores: Scores, *, n_boot: int = 1000, ci: float = 0.95, min_n: int = 10, seed: int = 0
) -> pd.DataFrame:
    """Noise types differ? Per (dataset, model, cam), set (all, preserving, changing) and severity
    (and pooled): Friedman over noise types at equal severity numbers, images as blocks."""
    rows = []
    for key, group in _groups(scores, ["dataset", "model", "cam"]):
        keys = dict(zip(("dataset", "model", "cam"), key, strict=True))
        for set_name in (blocking.ALL, *SETS):
            for severity in _levels(group):
                values, note = blocking.level_blocks(group, "noise", set_name, severity)
                label = _severity_label(severity)
                bootstrap = Bootstrap(n_boot, ci, min_n, seed, ("noise_types", *key, set_name, label))
                result = friedman(values, bootstrap, levels="noise types")
                rows.append(_friedman_row("noise_type", keys, set_name, label, result, note))
    return _frame(rows)


def severity_trend(
    scores: Scores, *, n_boot: int = 1000, ci: float = 0.95, min_n: int = 10, seed: int = 0
) -> pd.DataFrame:
    """Does r fall with severity? Per (dataset, model, cam, noise): Page's L test over the ordered
    severities with images as blocks (r on all pairs; predicted: r falls as severity rises)."""
    rows = []
    for key, group in _groups(scores, ["dataset", "model", "cam", "noise"]):
        keys = dict(zip(("dataset", "model", "cam", "noise"), key, strict=True))
        values, note = blocking.severity_blocks(group)
        result = page_trend(values, Bootstrap(n_boot, ci, min_n, seed, ("severity_trend", *key)))
        rows.append(_omnibus_row("severity_trend", "page", keys, blocking.ALL, "", result, note))
    return _frame(rows)


def all_tests(
    scores: Scores, *, alpha: float = 0.05, n_boot: int = 1000, ci: float = 0.95, min_n: int = 10, seed: int = 0
) -> dict[str, pd.DataFrame]:
    """Every test family, marked at ``alpha`` (:func:`mark_significant`), under the names of the
    workflow's tables (``results/statistics/<name>.csv``)."""
    omnibus, pairwise = cam_methods(scores, n_boot=n_boot, ci=ci, min_n=min_n, seed=seed)
    tables = {
        "cam_methods": omnibus,
        "cam_pairwise": pairwise,
        "datasets": datasets(scores, n_boot=n_boot, ci=ci, min_n=min_n, seed=seed),
        "noise_types": noise_types(scores, n_boot=n_boot, ci=ci, min_n=min_n, seed=seed),
        "severity_trend": severity_trend(scores, n_boot=n_boot, ci=ci, min_n=min_n, seed=seed),
    }
    return {name: mark_significant(table, alpha) for name, table in tables.items()}


def holm(p_values: Iterable[float]) -> np.ndarray:
    """Holm step-down adjusted p-values; NaN entries stay NaN and do not count as tests.

    With the m finite p sorted ascending, p_(i) -> max_{j<=i} min(1, (m - j + 1) p_(j)).
    """
    values = np.asarray(list(p_values), dtype=np.float64)
    adjusted = np.full(values.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size:
        order = finite[np.argsort(values[finite], kind="stable")]
        scaled = np.minimum(1.0, (finite.size - np.arange(finite.size)) * values[order])
        adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def mark_significant(table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Copy of a test table with a nullable boolean ``significant`` = p_corr < alpha.

    Rows whose test did not run (p_corr NaN) get <NA>, not False; their note says why.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if "p_corr" not in table.columns:
        raise ValueError(f"table lacks column p_corr; available: {', '.join(map(str, table.columns))}")
    marked = table.copy()
    marked["significant"] = (marked["p_corr"] < alpha).astype("boolean").mask(marked["p_corr"].isna())
    return marked


# --- rows ------------------------------------------------------------------------------------


def _friedman_row(family: str, keys: dict, set_name: str, severity: str, result: Friedman, note: str) -> dict:
    row = _row(family, "friedman", keys, set_name, severity, n=result.n, k=result.k, effect_size_name="kendall_w")
    low, high = result.w_interval
    numbers = {"statistic": result.statistic, "p": result.p, "effect_size": result.w}
    return {**row, **numbers, "effect_size_lo": low, "effect_size_hi": high, "note": join(result.note, note)}


def _paired_row(keys: dict, set_name: str, severity: str, levels: tuple[str, str], result: Paired) -> dict:
    row = _row("cam_method_pairwise", "wilcoxon", keys, set_name, severity, n=result.n, k=2)
    row.update(a=levels[0], b=levels[1], effect_size_name="rank_biserial")
    (effect_lo, effect_hi), (difference_lo, difference_hi) = result.effect_interval, result.difference_interval
    return {
        **row,
        "statistic": result.statistic,
        "p": result.p,
        "effect_size": result.effect,
        "effect_size_lo": effect_lo,
        "effect_size_hi": effect_hi,
        "difference": result.difference,
        "difference_lo": difference_lo,
        "difference_hi": difference_hi,
        "note": result.note,
    }


def _omnibus_row(family: str, test: str, keys: dict, set_name: str, severity: str, result: Omnibus, note: str) -> dict:
    name = {"kruskal": "epsilon_squared", "page": "mean_spearman_rho"}[test]
    row = _row(family, test, keys, set_name, severity, n=result.n, k=result.k, effect_size_name=name)
    low, high = result.effect_interval
    numbers = {"statistic": result.statistic, "p": result.p, "effect_size": result.effect}
    return {**row, **numbers, "effect_size_lo": low, "effect_size_hi": high, "note": join(result.note, note)}


def _row(
    family: str, test: str, keys: dict, set_name: str, severity: str, *, n: int, k: int, effect_size_name: str = ""
) -> dict:
    row: dict = {column: "" for column in ("dataset", "model", "noise", "cam", "a", "b")}
    row.update({column: str(value) for column, value in keys.items()})
    row.update({column: np.nan for column in _FLOATS})
    row.update(
        family=family,
        test=test,
        set=set_name,
        severity=severity,
        n=int(n),
        k=int(k),
        effect_size_name=effect_size_name,
        note="",
    )
    return row


def _frame(rows: list[dict]) -> pd.DataFrame:
    """The rows as a frame of :data:`STATS_COLUMNS`, Holm-corrected within each family."""
    frame = pd.DataFrame(rows, columns=list(STATS_COLUMNS))
    frame = frame.astype({"n": "int64", "k": "int64", **dict.fromkeys(_FLOATS, "float64")})
    if frame.empty:
        return frame
    family_keys = ["family", *FAMILY_KEYS[str(frame["family"].iloc[0])]]
    frame["p_corr"] = frame.groupby(family_keys, sort=False)["p"].transform(holm)
    return frame


# --- groups ----------------------------------------------------------------------------------


def _levels(group: pd.DataFrame) -> list[int | None]:
    """The severities of a group, then None for the pooled test."""
    return [*blocking.severities(group), None]


def _severity_label(severity: int | None) -> str:
    return blocking.POOLED if severity is None else str(severity)


def _groups(scores: Scores, keys: Sequence[str]) -> Iterator[tuple[tuple, pd.DataFrame]]:
    """(key, rows) of every group of ``keys``, in sorted key order. A frame is grouped in memory; a
    collected score file is read one group at a time (its :data:`INPUT_COLUMNS`, and only the row
    groups of that group), so memory holds one group, not the whole table."""
    if isinstance(scores, pd.DataFrame):
        _check_scores(scores)
        for key, group in scores.groupby(list(keys), sort=True):
            yield (key if isinstance(key, tuple) else (key,)), group
        return
    from camrobust.io.tables import column_names, read_score_groups

    _check_scores(pd.DataFrame(columns=column_names(scores)))
    yield from read_score_groups(scores, keys, INPUT_COLUMNS)


def _check_scores(scores: pd.DataFrame) -> None:
    missing = [column for column in INPUT_COLUMNS if column not in scores.columns]
    if missing:
        raise ValueError(f"scores lack column(s) {', '.join(missing)}; required: {', '.join(INPUT_COLUMNS)}")
