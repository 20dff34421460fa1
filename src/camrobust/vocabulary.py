"""The score vocabulary: every score's column name, label and direction, defined once.

Score tables, the robustness summary, the statistical tests, the figures and their captions all
name a score through this module, so a column, an axis label and "higher is better" cannot
disagree between them.

Two sets of (clean, noisy) pairs split every score table:

- **class-preserving** pairs (``preserving``): the noise left the predicted class unchanged; the
  CAM should not change either, and **consistency** C is the mean RBO r over them;
- **class-changing** pairs (``changing``): the predicted class changed; the CAM should change
  too, and **responsiveness** R is the mean 1 - r over them.

RM = C x R is the robustness metric. Only RBO enters it; the other similarities are reported
beside it for comparison.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Score:
    """A score as tables, figures and captions show it.

    ``name``: the table column; ``label``: short text for axes and table headers (Unicode);
    ``higher_is_better``: the direction in which a CAM is better (more stable for a similarity);
    ``description``: one sentence for captions and docs."""

    name: str
    label: str
    higher_is_better: bool
    description: str

    @property
    def direction(self) -> str:
        """ "higher is better" or "lower is better"."""
        return "higher is better" if self.higher_is_better else "lower is better"


DEFAULT_TOPK = 0.2
"""Share of the highest pixels the top-k IoU compares (``metric.topk``)."""


IOU_PREFIX = "iou_top"


def iou_column(topk: float = DEFAULT_TOPK) -> str:
    """Column of the top-k pixel IoU: ``iou_top20`` for the top 20 %."""
    return f"{IOU_PREFIX}{round(100 * topk):d}"


def find_iou_column(columns: Iterable[str]) -> str:
    """The top-k IoU column among a table's ``columns`` (``iou_top20`` when ``metric.topk`` is
    0.2): a summary reads the column the scores were written with, whatever the share."""
    found = [column for column in columns if re.fullmatch(rf"{IOU_PREFIX}\d+", str(column))]
    if len(found) != 1:
        raise ValueError(
            f"expected one top-k IoU column ({IOU_PREFIX}<percent>) among the scores' columns, got {found}"
        )
    return found[0]


RBO = Score(
    "rbo",
    "RBO r",
    True,
    "extrapolated rank-biased overlap of the clean and noisy region rankings (1 = same ranking)",
)
SPEARMAN = Score("spearman", "Spearman ρ", True, "Spearman correlation of the clean and noisy region importances")
SSIM = Score("ssim", "SSIM", True, "structural similarity of the clean and noisy CAMs (7 x 7 window)")
L1 = Score("l1", "L1", False, "mean absolute difference of the clean and noisy CAMs, maps in [0, 1]")
SENSITIVITY = Score(
    "sensitivity", "sensitivity", False, "relative sensitivity ||e - e'||_F / ||e||_F of the noisy CAM e'"
)


def iou(topk: float = DEFAULT_TOPK) -> Score:
    """The top-k pixel IoU score for ``topk``."""
    percent = round(100 * topk)
    return Score(
        iou_column(topk), f"IoU top-{percent}%", True, f"IoU of the top {percent} % pixels of the clean and noisy CAMs"
    )


def similarities(topk: float = DEFAULT_TOPK) -> tuple[Score, ...]:
    """The per-pair similarity scores of a score table, RBO first, in column order."""
    return (RBO, SPEARMAN, iou(topk), SSIM, L1, SENSITIVITY)


def similarity_columns(topk: float = DEFAULT_TOPK) -> list[str]:
    """Columns of the per-pair similarities in a score table."""
    return [score.name for score in similarities(topk)]


SCORE_KEYS: tuple[str, ...] = ("dataset", "model", "noise", "cam")
"""Key columns of a score table: one table per (dataset, model, noise, cam), and one row group
(or more) of the collected score file per table."""
PAIR_KEYS: tuple[str, ...] = ("severity", "image_id")
"""The columns that tell a table's (clean, noisy) pairs apart: one row per image and severity."""
PREDICTIONS: tuple[str, ...] = ("label", "y_clean", "y_noisy", "changed")
"""Per pair: the image's label (-1 when unknown), the clean and the noisy predicted class, and
whether the noise changed the predicted class."""
N_REGIONS = "n_regions"
"""Per pair: segmentation regions of the clean image, the items RBO ranks."""
NOTE = "note"
"""Per pair: "" or why a score is NaN."""


def score_columns(topk: float = DEFAULT_TOPK) -> list[str]:
    """Every column of a score table (``results/scores/...parquet`` and ``scores.parquet``), in order."""
    return [*SCORE_KEYS, *PAIR_KEYS, *PREDICTIONS, N_REGIONS, *similarity_columns(topk), NOTE]


CONSISTENCY = Score("consistency", "Consistency C", True, "mean RBO r over the class-preserving pairs")
RESPONSIVENESS = Score("responsiveness", "Responsiveness R", True, "mean 1 - r over the class-changing pairs")
RM = Score("rm", "RM = C × R", True, "the robustness metric, consistency times responsiveness")
SUMMARY_KEYS: tuple[str, ...] = ("dataset", "model", "cam", "noise")
"""Key columns of the robustness summary (``robustness.csv``), in its sort order, then severity
(ascending, ``"all"`` for the pooled row last)."""
ROBUSTNESS: tuple[Score, ...] = (CONSISTENCY, RESPONSIVENESS, RM)
"""The robustness summary's estimates, each with ``_lo`` and ``_hi`` CI columns."""

PRESERVING = "preserving"
CHANGING = "changing"
SETS: dict[str, str] = {PRESERVING: "class-preserving pairs", CHANGING: "class-changing pairs"}
"""The two sets of pairs by whether the noise changed the predicted class."""
SET_SCORES: dict[str, Score] = {PRESERVING: CONSISTENCY, CHANGING: RESPONSIVENESS}
"""What each set's value measures: r on class-preserving pairs, 1 - r on class-changing pairs."""
SET_VALUES: dict[str, str] = {PRESERVING: "r", CHANGING: "1 - r"}
"""The value a pair of each set contributes, r being its RBO."""
