"""Statistical tests on the score table: do CAM methods, datasets and noise types differ, and does
RBO fall with severity? pingouin for the tests, scikit-posthocs for Nemenyi.

Every test family takes the score table in memory or the path of the collected score file
(``results/summary/scores.parquet``), which it reads one group of the family at a time. It returns
a tidy frame with exactly the columns :data:`STATS_COLUMNS`:

- ``family``: cam_method, cam_method_pairwise, dataset, noise_type or severity_trend;
- ``test``: friedman, wilcoxon, kruskal or spearman;
- ``dataset``, ``model``, ``noise``, ``cam``: the group keys ("" where the column is the
  factor compared, or not a key of that family);
- ``set``: "preserving" (value r on class-preserving pairs), "changing" (value 1 - r on
  class-changing pairs) or "all" (value r on all pairs);
- ``a``, ``b``: the two levels compared by a pairwise test ("" otherwise);
- ``n``: subjects (Friedman, Wilcoxon: complete (image, severity) blocks; Kruskal: images;
  Spearman: rows); ``k``: levels compared (Spearman: distinct severities);
- ``statistic``: Friedman Q, Wilcoxon W, Kruskal-Wallis H, Spearman rho; ``p``;
- ``p_corr``: Holm-corrected p, across all rows of the frame for omnibus / trend families and
  across the pairs of one (dataset, model, noise, set) for pairwise tests;
- ``effect_size`` and ``effect_size_name``: Kendall's W (Friedman, tie-corrected),
  matched-pairs rank-biserial correlation (Wilcoxon), epsilon² = H / (n - 1) (Kruskal-Wallis),
  rho (Spearman);
- ``note``: "" or why a test could not run (its numbers are then NaN) or which subjects were
  left out. A test that cannot run is a row with a note, never an exception or a missing row.

:func:`mark_significant` adds a nullable boolean ``significant`` (p_corr < alpha, <NA> where
the test did not run) for the report tables.

Friedman (tie-corrected, chi² approximation with k - 1 df), with R_j the rank sums over n
blocks and T = sum over blocks and tie groups of (t³ - t)::

    W = (12 sum_j R_j² - 3 n² k (k+1)²) / (n² k (k² - 1) - n T),     Q = n (k - 1) W
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from itertools import combinations
from typing import TypeAlias

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from camrobust import vocabulary

# pingouin and scikit_posthocs are imported in the functions that use them: both load seaborn and
# pyplot (seconds per job), which the diagram job needs only for one of them.

STATS_COLUMNS: tuple[str, ...] = (
    "family",
    "test",
    "dataset",
    "model",
    "noise",
    "cam",
    "set",
    "a",
    "b",
    "n",
    "k",
    "statistic",
    "p",
    "p_corr",
    "effect_size",
    "effect_size_name",
    "note",
)
INPUT_COLUMNS: tuple[str, ...] = (*vocabulary.SCORE_KEYS, *vocabulary.PAIR_KEYS, "changed", vocabulary.RBO.name)
"""The score-table columns the tests read."""
SETS: tuple[str, ...] = tuple(vocabulary.SETS)
SUBJECT = ("image_id", "severity")
#: A score table in memory, or the path of a collected score file (``results/summary/scores.parquet``).
Scores: TypeAlias = "pd.DataFrame | str | os.PathLike[str]"


# --- public tests ----------------------------------------------------------------------------


def cam_methods(scores: Scores) -> tuple[pd.DataFrame, pd.DataFrame]:
    """CAM methods differ? Per (dataset, model, noise) and set: Friedman over CAMs + Wilcoxon.

    Blocks are (image, severity) pairs whose set membership agrees for every CAM (it does not
    depend on the CAM: same model, same noisy image) and that have a score for every CAM.
    Pairwise: Wilcoxon signed-rank (pingouin, two-sided) for every pair of CAMs, Holm-corrected
    within the (dataset, model, noise, set); effect size matched-pairs rank-biserial r.
    """
    omnibus, pairwise = [], []
    for key, group in _groups(scores, ["dataset", "model", "noise"]):
        keys = dict(zip(("dataset", "model", "noise"), key, strict=True))
        for set_name in SETS:
            blocks, note = _blocks(group, "cam", set_name)
            omnibus.append(_friedman_row("cam_method", keys, set_name, blocks, note, "CAM methods"))
            pairwise.extend(_wilcoxon_rows(keys, set_name, blocks))
    return _frame(omnibus, holm_over="all"), _frame(pairwise, holm_over="pairs")


def nemenyi_ranks(
    scores: pd.DataFrame, *, dataset: str, model: str, noise: str, set_name: str = "preserving"
) -> tuple[pd.Series, pd.DataFrame]:
    """Average rank per CAM (1 = best = highest value) and Nemenyi p-values, for a CD diagram.

    Blocks as in :func:`cam_methods`; the value is r ("preserving") or 1 - r
    ("changing"), so a higher value is better in both. Where fewer than 2 CAMs or 2 blocks
    remain, the ranks and p-values are NaN.
    """
    _check_scores(scores)
    _check_set(set_name)
    subset = scores[(scores["dataset"] == dataset) & (scores["model"] == model) & (scores["noise"] == noise)]
    if subset.empty:
        raise ValueError(f"no scores for dataset={dataset!r}, model={model!r}, noise={noise!r}")
    blocks, _ = _blocks(subset, "cam", set_name)
    cams = list(blocks.columns) if blocks.shape[1] else sorted(subset["cam"].unique())
    if blocks.shape[0] < 2 or blocks.shape[1] < 2:
        nan_matrix = pd.DataFrame(np.nan, index=cams, columns=cams)
        return pd.Series(np.nan, index=cams, name="average_rank"), nan_matrix
    import scikit_posthocs as sp

    ranks = scipy_stats.rankdata(-blocks.to_numpy(), axis=1).mean(axis=0)
    return pd.Series(ranks, index=cams, name="average_rank"), sp.posthoc_nemenyi_friedman(blocks)


def datasets(scores: Scores) -> pd.DataFrame:
    """Datasets differ? Per (model, cam): Kruskal-Wallis across datasets on per-image consistency.

    Per-image consistency = mean r over the image's class-preserving rows (all noises and
    severities); images without such rows are left out. Effect size epsilon² = H / (n - 1).
    """
    rows = []
    for (model, cam), group in _groups(scores, ["model", "cam"]):
        preserving = group[~group["changed"].astype(bool) & group["rbo"].notna()]
        per_image = preserving.groupby(["dataset", "image_id"], sort=True)["rbo"].mean().reset_index()
        keys = {"model": model, "cam": cam}
        rows.append(_kruskal_row(keys, per_image, sorted(group["dataset"].unique())))
    return _frame(rows, holm_over="all")


def noise_types(scores: Scores) -> pd.DataFrame:
    """Noise types differ? Per (dataset, model, cam) and set: Friedman across noise types.

    Blocks are (image, severity) pairs scored under every noise type (matched severity); set
    "all" uses r on every block, "preserving" / "changing" only blocks in that set under
    every noise type (value r / 1 - r). Effect size Kendall's W.
    """
    rows = []
    for key, group in _groups(scores, ["dataset", "model", "cam"]):
        keys = dict(zip(("dataset", "model", "cam"), key, strict=True))
        for set_name in ("all", *SETS):
            blocks, note = _blocks(group, "noise", set_name)
            rows.append(_friedman_row("noise_type", keys, set_name, blocks, note, "noise types"))
    return _frame(rows, holm_over="all")


def severity_trend(scores: Scores) -> pd.DataFrame:
    """Per (dataset, model, cam, noise): Spearman correlation of r with severity (all rows)."""
    rows = []
    for key, group in _groups(scores, ["dataset", "model", "cam", "noise"]):
        keys = dict(zip(("dataset", "model", "cam", "noise"), key, strict=True))
        scored = group[group["rbo"].notna()]
        rows.append(_spearman_row(keys, scored["severity"].to_numpy(float), scored["rbo"].to_numpy(float)))
    return _frame(rows, holm_over="all")


def all_tests(scores: Scores, alpha: float = 0.05) -> dict[str, pd.DataFrame]:
    """Every test family, marked at ``alpha`` (:func:`mark_significant`), under the names of the
    workflow's tables (``results/statistics/<name>.csv``)."""
    omnibus, pairwise = cam_methods(scores)
    tables = {
        "cam_methods": omnibus,
        "cam_pairwise": pairwise,
        "datasets": datasets(scores),
        "noise_types": noise_types(scores),
        "severity_trend": severity_trend(scores),
    }
    return {name: mark_significant(table, alpha) for name, table in tables.items()}


def holm(p_values: Iterable[float]) -> np.ndarray:
    """Holm step-down adjusted p-values; NaN entries stay NaN and do not count as tests.

    With the m finite p sorted ascending, p_(i) -> max_{j<=i} min(1, (m - j + 1) p_(j)).
    """
    import pingouin as pg

    values = np.asarray(list(p_values), dtype=np.float64)
    adjusted = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    if finite.any():
        adjusted[finite] = pg.multicomp(values[finite], method="holm")[1]
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


# --- blocks (subjects x levels) --------------------------------------------------------------


def _blocks(group: pd.DataFrame, factor: str, set_name: str) -> tuple[pd.DataFrame, str]:
    """Wide (subject x level) values of one set, complete cases only, and a note on drops."""
    index = list(SUBJECT)
    values = group.pivot_table(index=index, columns=factor, values="rbo", aggfunc="mean", dropna=False)
    changed = group.assign(changed=group["changed"].astype(float)).pivot_table(
        index=index, columns=factor, values="changed", aggfunc="mean", dropna=False
    )
    if set_name == "preserving":
        members = (changed == 0).all(axis=1)
    elif set_name == "changing":
        members = (changed == 1).all(axis=1)
    else:
        members = changed.notna().all(axis=1)
    chosen = values[members]
    complete = chosen.dropna()
    if set_name == "changing":
        complete = 1.0 - complete
    dropped = len(chosen) - len(complete)
    note = f"{dropped} subject(s) with a missing or NaN score left out" if dropped else ""
    complete.columns = [str(column) for column in complete.columns]
    return complete, note


# --- single tests -> rows --------------------------------------------------------------------


def _friedman_row(family: str, keys: dict, set_name: str, blocks: pd.DataFrame, note: str, levels: str) -> dict:
    import pingouin as pg

    n, k = blocks.shape
    reason = _friedman_blocker(blocks, levels)
    row = _row(family, "friedman", keys, set_name, n=n, k=k, effect_size_name="kendall_w")
    if reason:
        return {**row, "note": _join(reason, note)}
    long = blocks.reset_index(drop=True).rename_axis("subject").reset_index()
    long = long.melt(id_vars="subject", var_name="level", value_name="value")
    result = pg.friedman(data=long, dv="value", within="level", subject="subject").iloc[0]
    return {
        **row,
        "statistic": float(result["Q"]),
        "p": float(result["p_unc"]),
        "effect_size": float(result["W"]),
        "note": note,
    }


def _friedman_blocker(blocks: pd.DataFrame, levels: str) -> str:
    n, k = blocks.shape
    if k < 2:
        return f"fewer than 2 {levels} (k={k})"
    if n < 2:
        return f"fewer than 2 complete subjects (n={n})"
    if (blocks.nunique(axis=1) == 1).all():
        return "all values equal within every subject"
    return ""


def _wilcoxon_rows(keys: dict, set_name: str, blocks: pd.DataFrame) -> list[dict]:
    import pingouin as pg

    rows = []
    for first, second in combinations(blocks.columns, 2):
        difference = blocks[first].to_numpy() - blocks[second].to_numpy()
        row = _row(
            "cam_method_pairwise",
            "wilcoxon",
            keys,
            set_name,
            n=len(blocks),
            k=2,
            effect_size_name="rank_biserial",
        )
        row.update(a=first, b=second)
        if len(blocks) < 2:
            rows.append({**row, "note": f"fewer than 2 complete subjects (n={len(blocks)})"})
            continue
        if not np.any(difference):
            rows.append({**row, "note": "all paired differences are zero"})
            continue
        result = pg.wilcoxon(blocks[first].to_numpy(), blocks[second].to_numpy()).iloc[0]
        rows.append(
            {
                **row,
                "statistic": float(result["W_val"]),
                "p": float(result["p_val"]),
                "effect_size": float(result["RBC"]),
            }
        )
    return rows


def _kruskal_row(keys: dict, per_image: pd.DataFrame, compared: list[str]) -> dict:
    import pingouin as pg

    present = sorted(per_image["dataset"].unique())
    n, k = len(per_image), len(present)
    row = _row("dataset", "kruskal", keys, "preserving", n=n, k=k, effect_size_name="epsilon_squared")
    missing = sorted(set(compared) - set(present))
    left_out = f"dataset(s) without class-preserving images left out: {', '.join(map(str, missing))}" if missing else ""
    if k < 2:
        return {**row, "note": _join(f"fewer than 2 datasets with class-preserving images (k={k})", left_out)}
    if n <= k:
        return {**row, "note": _join(f"too few images (n={n}) for {k} datasets", left_out)}
    if per_image["rbo"].nunique() == 1:
        return {**row, "note": _join("all values equal", left_out)}
    result = pg.kruskal(data=per_image, dv="rbo", between="dataset").iloc[0]
    statistic = float(result["H"])
    return {
        **row,
        "statistic": statistic,
        "p": float(result["p_unc"]),
        "effect_size": statistic / (n - 1),
        "note": left_out,
    }


def _spearman_row(keys: dict, severity: np.ndarray, similarity: np.ndarray) -> dict:
    n, k = len(similarity), len(np.unique(severity))
    row = _row("severity_trend", "spearman", keys, "all", n=n, k=k, effect_size_name="spearman_rho")
    if n < 3:
        return {**row, "note": f"fewer than 3 scored rows (n={n})"}
    if k < 2:
        return {**row, "note": "one severity only"}
    if np.unique(similarity).size == 1:
        return {**row, "note": "all values equal"}
    rho, p = scipy_stats.spearmanr(severity, similarity)
    return {**row, "statistic": float(rho), "p": float(p), "effect_size": float(rho)}


# --- row / frame helpers ---------------------------------------------------------------------


def _row(family: str, test: str, keys: dict, set_name: str, *, n: int, k: int, effect_size_name: str) -> dict:
    row: dict = {column: "" for column in ("dataset", "model", "noise", "cam", "a", "b")}
    row.update({column: str(value) for column, value in keys.items()})
    row.update(
        family=family,
        test=test,
        set=set_name,
        n=int(n),
        k=int(k),
        statistic=np.nan,
        p=np.nan,
        p_corr=np.nan,
        effect_size=np.nan,
        effect_size_name=effect_size_name,
        note="",
    )
    return row


def _frame(rows: list[dict], holm_over: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(STATS_COLUMNS))
    frame = frame.astype(
        {
            "n": "int64",
            "k": "int64",
            "statistic": "float64",
            "p": "float64",
            "p_corr": "float64",
            "effect_size": "float64",
        }
    )
    if holm_over == "all":
        frame["p_corr"] = holm(frame["p"])
    elif not frame.empty:
        family_keys = ["dataset", "model", "noise", "set"]
        frame["p_corr"] = frame.groupby(family_keys, sort=False)["p"].transform(lambda p: holm(p))
    return frame


def _join(*notes: str) -> str:
    return "; ".join(note for note in notes if note)


def _groups(scores: Scores, keys: list[str]) -> Iterator[tuple[tuple, pd.DataFrame]]:
    """(key, rows) of every group of ``keys``, in sorted key order. A frame is grouped in memory; a
    collected score file is read one group at a time (its :data:`INPUT_COLUMNS`, and only the row
    groups of that group), so memory holds one group, not the whole table."""
    if isinstance(scores, pd.DataFrame):
        _check_scores(scores)
        for key, group in scores.groupby(keys, sort=True):
            yield (key if isinstance(key, tuple) else (key,)), group
        return
    from camrobust.io.tables import column_names, read_score_groups

    _check_scores(pd.DataFrame(columns=column_names(scores)))
    yield from read_score_groups(scores, keys, INPUT_COLUMNS)


def _check_scores(scores: pd.DataFrame) -> None:
    missing = [column for column in INPUT_COLUMNS if column not in scores.columns]
    if missing:
        raise ValueError(f"scores lack column(s) {', '.join(missing)}; required: {', '.join(INPUT_COLUMNS)}")


def _check_set(set_name: str) -> None:
    if set_name not in SETS:
        raise ValueError(f"unknown set {set_name!r}; allowed: {', '.join(SETS)}")
