"""The robustness summary of score tables: the rows of ``results/summary/robustness.csv``.

Per (dataset, model, cam, noise): C, R and RM with bootstrap CIs per severity and pooled over
severities (``severity == "all"``, last), the similarity means beside them, the share of pairs
whose prediction the noise changed (``change_rate``; ``attack_success`` for attacks) and the mean
number of regions. An explanation attack keeps every prediction: there only C is defined, and
R and RM are NaN with the reason :data:`KEEPS_PREDICTION`.

Each (dataset, model, noise, cam) score table is summarised on its own, and every group's bootstrap is seeded by its key, so a summary of the tables one at a time (as the
workflow reads them) equals the summary of all of them at once.

``sensitivity_max`` (Max-Sensitivity: the mean over images of each image's largest sensitivity)
is NaN in per-severity rows: there an image has one pair, so its largest value is its only one
and the column would repeat ``sensitivity_mean``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from camrobust import vocabulary
from camrobust.analysis import robustness
from camrobust.registry import EXPLANATION_ATTACKS

KEEPS_PREDICTION = "the attack keeps the prediction"
"""Why R (and RM) is NaN for an explanation attack: it only keeps images of the clean class."""


def input_columns(columns: Iterable[str]) -> list[str]:
    """The columns of a score table (given its ``columns``) that the summary reads: the keys,
    severity, image id, ``changed``, ``n_regions`` and the similarities (the top-k IoU column
    under the name the table has)."""
    columns = [str(column) for column in columns]
    iou = vocabulary.find_iou_column(columns)
    similarities = [iou if column == vocabulary.iou_column() else column for column in vocabulary.similarity_columns()]
    return [
        *vocabulary.SCORE_KEYS,
        *vocabulary.PAIR_KEYS,
        "changed",
        vocabulary.N_REGIONS,
        *similarities,
    ]


def robustness_summary(
    scores: pd.DataFrame, *, attacks: Sequence[str], n_boot: int, ci: float, seed: int, min_n: int
) -> pd.DataFrame:
    """Robustness summary of a score table holding any number of (dataset, model, noise, cam).

    The similarity columns come from :func:`camrobust.analysis.robustness.similarity_summary`
    (Avg- and Max-Sensitivity among them). ``change_rate`` is the share of image-severity pairs
    whose prediction the noise changed (the attack success rate for the noises in ``attacks``).
    """
    tables = (table.reset_index(drop=True) for _, table in scores.groupby(list(vocabulary.SCORE_KEYS), sort=False))
    return table_summaries(tables, attacks=attacks, n_boot=n_boot, ci=ci, seed=seed, min_n=min_n)


def table_summaries(
    tables: Iterable[pd.DataFrame], *, attacks: Sequence[str], n_boot: int, ci: float, seed: int, min_n: int
) -> pd.DataFrame:
    """Robustness summary of score tables given one (dataset, model, noise, cam) at a time (only
    one summary part per table is kept, not the table)."""
    parts = [
        score_table_summary(table, attacks=attacks, n_boot=n_boot, ci=ci, seed=seed, min_n=min_n) for table in tables
    ]
    return summary_order(pd.concat(parts, ignore_index=True))


def score_table_summary(
    scores: pd.DataFrame, *, attacks: Sequence[str], n_boot: int, ci: float, seed: int, min_n: int
) -> pd.DataFrame:
    """Robustness summary of one (dataset, model, noise, cam) score table."""
    keys = list(vocabulary.SUMMARY_KEYS)
    per_severity = robustness.robustness_table(
        scores, keys + ["severity"], n_boot=n_boot, seed=seed, ci=ci, min_n=min_n
    )
    pooled = robustness.robustness_table(scores, keys, n_boot=n_boot, seed=seed, ci=ci, min_n=min_n)
    pooled.insert(pooled.columns.get_loc("noise") + 1, "severity", "all")
    per_severity["severity"] = per_severity["severity"].astype(str)

    def means(by: list[str]) -> pd.DataFrame:
        frame = robustness.similarity_summary(scores, by).drop(columns="n")
        grouped = scores.groupby(by, sort=True)
        frame["change_rate"] = grouped["changed"].mean().to_numpy()
        frame["mean_regions"] = grouped[vocabulary.N_REGIONS].mean().to_numpy()
        return frame

    severity_means = means(keys + ["severity"])
    severity_means["severity"] = severity_means["severity"].astype(str)
    severity_means[f"{vocabulary.SENSITIVITY.name}_max"] = np.nan  # one pair per image: the max is the mean
    pooled_means = means(keys)
    pooled_means["severity"] = "all"
    summary = pd.concat(
        [
            per_severity.merge(severity_means, on=keys + ["severity"]),
            pooled.merge(pooled_means, on=keys + ["severity"]),
        ],
        ignore_index=True,
    )
    summary["attack_success"] = np.where(summary["noise"].isin(list(attacks)), summary["change_rate"], np.nan)
    keeps = summary["noise"].isin(EXPLANATION_ATTACKS)
    summary.loc[keeps, "reason"] = summary.loc[keeps, "reason"].str.replace(
        robustness.NO_CHANGING, KEEPS_PREDICTION, regex=False
    )
    return summary_order(summary)


def summary_order(summary: pd.DataFrame) -> pd.DataFrame:
    """Summary rows by (dataset, model, cam, noise), each group's severities ascending, "all" last."""
    order = summary["severity"].map(lambda s: 10**6 if s == "all" else int(s))
    keys = list(vocabulary.SUMMARY_KEYS)
    return (
        summary.assign(severity_order=order)
        .sort_values([*keys, "severity_order"])
        .drop(columns="severity_order")
        .reset_index(drop=True)
    )


def read_summary(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A robustness summary CSV as written (``severity`` as text, ``reason`` "" where none)."""
    table = pd.read_csv(path, keep_default_na=True, dtype={"severity": str, "reason": str})
    table["reason"] = table["reason"].fillna("")
    return table
