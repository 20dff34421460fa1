"""The rows of the robustness summary that the summary figures draw.

The robustness summary has one row per (dataset, model, cam, noise, severity), ``severity``
being an int or ``"all"`` for rows pooled over severities (see the robustness summary's
caption), with the counts ``n_same`` (class-preserving pairs) and ``n_changed``
(class-changing pairs) beside the scores.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

POOLED = "all"
SUMMARY_KEYS = ("dataset", "model", "cam", "noise", "severity")


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """ValueError naming the missing columns of ``frame`` and the ones it has."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing columns {missing}; has {list(frame.columns)}")


def is_pooled(severity: pd.Series) -> pd.Series:
    """True on rows pooled over severities (severity 'all', also after a CSV round trip)."""
    return severity.astype(str).str.strip().str.lower() == POOLED


def select(summary: pd.DataFrame, dataset: str, model: str) -> pd.DataFrame:
    """Rows of one (dataset, model); ValueError lists the available pairs."""
    require_columns(summary, SUMMARY_KEYS, "robustness summary")
    rows = summary[(summary["dataset"] == dataset) & (summary["model"] == model)]
    if rows.empty:
        pairs = sorted(set(zip(summary["dataset"], summary["model"])))
        raise ValueError(f"no summary rows for dataset={dataset!r}, model={model!r}; available: {pairs}")
    return rows


def per_severity(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of single severities with ``severity`` as int."""
    single = rows[~is_pooled(rows["severity"])].copy()
    single["severity"] = pd.to_numeric(single["severity"]).astype(int)
    return single


def change_share(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Share of class changes n_changed / (n_same + n_changed) per ``keys``.

    Prediction changes do not depend on the CAM, so every CAM row of a group carries the same
    counts; the row with the most scored images stands for the group (CAMs with NaN scores
    may count fewer).
    """
    counted = rows.reset_index(drop=True).assign(n_total=lambda f: f["n_same"] + f["n_changed"])
    counts = counted.loc[
        counted.groupby(keys, sort=True)["n_total"].idxmax(), [*keys, "n_same", "n_changed", "n_total"]
    ]
    counts = counts.reset_index(drop=True)
    counts["share_changed"] = counts["n_changed"] / counts["n_total"].where(counts["n_total"] > 0)
    return counts
