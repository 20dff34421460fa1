"""Ranking agreement, like with like: RM built from each complementary similarity.

RBO's RM rewards a CAM that stays when the class stays and moves when it changes. A ranking by a
raw similarity rewards stability only, so comparing the two would set unlike things side by side.
Instead each complementary similarity s, mapped to [0, 1] where needed, builds its own
C_s x R_s with the same split by prediction change (C_s = mean s over class-preserving pairs,
R_s = mean 1 - s over class-changing pairs):

- Spearman's rho as (1 + rho) / 2;
- the IoU of the top-k pixels (``iou_top20`` for ``metric.topk`` 0.2), as it is;
- SSIM, as it is (it can be negative, rarely for CAMs, and then adds to R_s);
- 1 - L1 (maps in [0, 1], so L1 in [0, 1]).

Per (dataset, model), the CAMs' rankings by each RM_s are compared with the ranking by RBO's RM
with Kendall's tau-b and a bootstrap CI over images (:mod:`camrobust.analysis.rankings`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeAlias

import pandas as pd

from camrobust import vocabulary
from camrobust.analysis.rankings import Similarity, collect_totals, compare

Scores: TypeAlias = "pd.DataFrame | str | os.PathLike[str]"


@dataclass(frozen=True)
class Measure:
    """A similarity as an RM builder: its score table column, its label and its map to [0, 1]."""

    name: str
    label: str
    similarity: Similarity


def measures(columns: Iterable[str]) -> tuple[Measure, ...]:
    """RBO (the reference) and the complementary similarities, the top-k IoU named as among a
    score table's ``columns``."""
    iou = vocabulary.find_iou_column(columns)
    percent = iou.removeprefix(vocabulary.IOU_PREFIX)
    return (
        Measure(vocabulary.RBO.name, vocabulary.RBO.label, lambda rows: rows[vocabulary.RBO.name].to_numpy(float)),
        Measure(
            vocabulary.SPEARMAN.name,
            "(1 + Spearman ρ) / 2",
            lambda rows: (1.0 + rows[vocabulary.SPEARMAN.name].to_numpy(float)) / 2.0,
        ),
        Measure(iou, f"IoU top-{percent}%", lambda rows: rows[iou].to_numpy(float)),
        Measure(vocabulary.SSIM.name, vocabulary.SSIM.label, lambda rows: rows[vocabulary.SSIM.name].to_numpy(float)),
        Measure(
            vocabulary.L1.name,
            f"1 − {vocabulary.L1.label}",
            lambda rows: 1.0 - rows[vocabulary.L1.name].to_numpy(float),
        ),
    )


def input_columns(columns: Iterable[str]) -> list[str]:
    """The score-table columns the agreement reads (given a table's ``columns``)."""
    names = [measure.name for measure in measures(columns)]
    return [*vocabulary.SCORE_KEYS, *vocabulary.PAIR_KEYS, "changed", *names]


def ranking_agreement(
    scores: Scores, *, n_boot: int, ci: float, seed: int, min_n: int, columns: Iterable[str] | None = None
) -> pd.DataFrame:
    """One row per (dataset, model, cam): n_images, then per measure m (rbo first) ``rm_<m>``
    (mean over noises of the pooled RM built from m) and ``rank_<m>`` (1 = most robust, ties
    averaged), then per complementary measure ``tau_<m>`` with ``tau_<m>_lo`` / ``_hi`` (the same
    in every row of a (dataset, model)) and ``note``. ``scores``: a score table, or the collected
    score file read one (dataset, model, noise, cam) table at a time."""
    if columns is None:
        columns = (
            [str(column) for column in scores.columns] if isinstance(scores, pd.DataFrame) else _file_columns(scores)
        )
    chosen = measures(columns)
    variants = {measure.name: measure.similarity for measure in chosen}
    reference = chosen[0].name
    frames = []
    for (dataset, model), tables in _experiments(scores, input_columns(columns)):
        totals = collect_totals(tables, variants)
        result = compare(
            totals, reference=reference, n_boot=n_boot, ci=ci, min_n=min_n, seed_key=(seed, dataset, model)
        )
        frame = pd.DataFrame({"dataset": dataset, "model": model, "cam": totals.cams, "n_images": result.n_images})
        for measure in chosen:
            frame[f"rm_{measure.name}"] = result.rm[measure.name].to_numpy()
            frame[f"rank_{measure.name}"] = result.rm[measure.name].rank(ascending=False, method="average").to_numpy()
        taus = result.tau.set_index("variant")
        for measure in chosen[1:]:
            for suffix in ("", "_lo", "_hi"):
                frame[f"tau_{measure.name}{suffix}"] = taus.loc[measure.name, f"tau{suffix}"]
        frame["note"] = str(taus["note"].iloc[0])
        frames.append(frame.sort_values([f"rank_{reference}", "cam"], na_position="last"))
    if not frames:
        raise ValueError("no scores to compare")
    return pd.concat(frames, ignore_index=True)


def _file_columns(path: str | os.PathLike[str]) -> list[str]:
    from camrobust.io.tables import column_names

    return column_names(path)


def _experiments(scores: Scores, columns: list[str]) -> Iterator[tuple[tuple[str, str], list[pd.DataFrame]]]:
    """Per (dataset, model), its (noise, cam) score tables, read one (dataset, model) at a time."""
    if isinstance(scores, pd.DataFrame):
        grouped: Iterable[tuple[tuple, pd.DataFrame]] = (
            (key, table) for key, table in scores[columns].groupby(list(vocabulary.SCORE_KEYS), sort=True)
        )
    else:
        from camrobust.io.tables import read_score_groups

        grouped = read_score_groups(scores, vocabulary.SCORE_KEYS, columns)
    current: tuple[str, str] | None = None
    tables: list[pd.DataFrame] = []
    for key, table in grouped:
        experiment = (str(key[0]), str(key[1]))
        if current is not None and experiment != current:
            yield current, tables
            tables = []
        current = experiment
        tables.append(table)
    if current is not None:
        yield current, tables


def measure_labels(columns: Iterable[str]) -> dict[str, str]:
    """Measure name -> label, for figures and captions."""
    return {measure.name: measure.label for measure in measures(columns)}
