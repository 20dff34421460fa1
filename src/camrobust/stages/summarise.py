"""Summaries of all scores (rules/summarise.smk): the collected score file, the robustness
summary and the statistical tests. No torch: these jobs run in the analysis env."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd

from camrobust import vocabulary
from camrobust.analysis import summary
from camrobust.core.pairs import collected_order
from camrobust.io.tables import ParquetAppender, column_names, first_row_key, read_score_groups

PathLike = str | os.PathLike[str]


def collect_scores(*, paths: Sequence[PathLike], out: PathLike) -> None:
    """All score tables in one Parquet file, ordered by (dataset, model, noise, cam, severity,
    image_id); one input table in memory at a time."""
    with ParquetAppender(out) as appender:
        for path in sorted(paths, key=lambda path: first_row_key(path, vocabulary.SCORE_KEYS)):
            appender.append(collected_order(pd.read_parquet(path)))


def summarise_robustness(
    *, scores: PathLike, attacks: Sequence[str], n_boot: int, ci: float, seed: int, out: PathLike
) -> pd.DataFrame:
    """The robustness summary (:mod:`camrobust.analysis.summary`) of the collected scores at
    ``scores``, written as CSV at ``out`` (floats at full precision: reading the file back gives
    the same numbers).

    The table is read one (dataset, model, noise, cam) at a time, so memory holds one score table,
    not all of them; the rows equal those of :func:`camrobust.analysis.summary.robustness_summary`
    of the whole table.
    """
    columns = summary.input_columns(column_names(scores))
    tables = (table for _, table in read_score_groups(scores, vocabulary.SCORE_KEYS, columns))
    result = summary.table_summaries(tables, attacks=attacks, n_boot=n_boot, ci=ci, seed=seed)
    result.to_csv(out, index=False)
    return result


def statistical_tests(*, test: str, scores: PathLike, alpha: float, out: Sequence[PathLike]) -> None:
    """One family of statistical tests (``test`` names the :mod:`camrobust.analysis.stats`
    function: cam_methods, datasets, noise_types, severity_trend) on the collected scores, read
    one group at a time; its tables, marked significant at ``alpha``, as CSV at ``out``."""
    from camrobust.analysis import stats

    tables = getattr(stats, test)(scores)
    if isinstance(tables, pd.DataFrame):
        tables = (tables,)
    for table, path in zip(tables, out, strict=True):
        stats.mark_significant(table, alpha).to_csv(path, index=False)
