"""Summaries of all scores (rules/summarise.smk): the collected score file, the robustness
summary, its Markdown and LaTeX renderings, the verdicts and the statistical tests. No torch:
these jobs run in the analysis env."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from camrobust import vocabulary
from camrobust.analysis import summary as summaries
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
    *, scores: PathLike, attacks: Sequence[str], n_boot: int, ci: float, seed: int, min_n: int, out: PathLike
) -> pd.DataFrame:
    """The robustness summary (:mod:`camrobust.analysis.summary`) of the collected scores at
    ``scores``, written as CSV at ``out`` (floats at full precision: reading the file back gives
    the same numbers).

    The table is read one (dataset, model, noise, cam) at a time, so memory holds one score table,
    not all of them; the rows equal those of :func:`camrobust.analysis.summary.robustness_summary`
    of the whole table.
    """
    columns = summaries.input_columns(column_names(scores))
    tables = (table for _, table in read_score_groups(scores, vocabulary.SCORE_KEYS, columns))
    result = summaries.table_summaries(tables, attacks=attacks, n_boot=n_boot, ci=ci, seed=seed, min_n=min_n)
    result.to_csv(out, index=False)
    return result


def export_robustness_table(*, summary: PathLike, ci: float, markdown: PathLike, latex: PathLike) -> None:
    """The pooled rows of the robustness summary with their CIs as Markdown and LaTeX, for papers."""
    from camrobust.analysis import tables

    table = summaries.read_summary(summary)
    Path(markdown).write_text(tables.to_markdown(table, ci))
    Path(latex).write_text(tables.to_latex(table, ci))


def write_verdicts(
    *, scores: PathLike, practical_difference: float, n_boot: int, ci: float, seed: int, min_n: int, out: PathLike
) -> pd.DataFrame:
    """Per (dataset, model, noise), which CAM is the most robust, if any (:mod:`camrobust.analysis.
    verdicts`), from the collected scores read one (dataset, model, noise) at a time, as CSV."""
    from camrobust.analysis import verdicts

    result = verdicts.verdicts(
        scores, practical_difference=practical_difference, n_boot=n_boot, ci=ci, seed=seed, min_n=min_n
    )
    result.to_csv(out, index=False)
    return result


def statistical_tests(
    *,
    test: str,
    scores: PathLike,
    alpha: float,
    n_boot: int,
    ci: float,
    min_n: int,
    seed: int,
    out: Sequence[PathLike],
) -> None:
    """One family of statistical tests (``test`` names the :mod:`camrobust.analysis.stats`
    function: cam_methods, datasets, noise_types, severity_trend) on the collected scores, read
    one group at a time; its tables, marked significant at ``alpha``, as CSV at ``out``."""
    from camrobust.analysis import stats

    tables = getattr(stats, test)(scores, n_boot=n_boot, ci=ci, min_n=min_n, seed=seed)
    if isinstance(tables, pd.DataFrame):
        tables = (tables,)
    for table, path in zip(tables, out, strict=True):
        stats.mark_significant(table, alpha).to_csv(path, index=False)
