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

# --- faithfulness: does the model need what the map points at? (see camrobust.faithfulness) -----

DELETION_AUC = Score(
    "deletion_auc",
    "deletion AUC",
    False,
    "area under the target-class probability as the pixels are deleted, highest CAM value first "
    "(Petsiuk et al. 2018); a faithful map makes the probability fall fast",
)
INSERTION_AUC = Score(
    "insertion_auc",
    "insertion AUC",
    True,
    "area under the target-class probability as the pixels are restored into a blurred image, "
    "highest CAM value first (Petsiuk et al. 2018); a faithful map makes it rise fast",
)
ROAD_MORF = Score(
    "road_morf",
    "ROAD MoRF",
    False,
    "mean target-class probability after imputing the most relevant pixels by noisy linear "
    "imputation, over the removal percentages (Rong et al. 2022)",
)
ROAD_LERF = Score(
    "road_lerf",
    "ROAD LeRF",
    True,
    "mean target-class probability after imputing the least relevant pixels by noisy linear "
    "imputation, over the removal percentages (Rong et al. 2022)",
)
REGION_DELETION_AUC = Score(
    "region_deletion_auc",
    "region deletion AUC",
    False,
    "area under the target-class probability as the clean image's regions are deleted in the order "
    "of their mean CAM value, the ranking the robustness score compares (IROF-like, Rieger & Hansen 2020)",
)
FAITHFULNESS: tuple[Score, ...] = (DELETION_AUC, INSERTION_AUC, ROAD_MORF, ROAD_LERF, REGION_DELETION_AUC)
"""The faithfulness scores, one column each in a faithfulness table (one row per clean image)."""

# --- localisation: does the map point at the object? (see camrobust.localisation) --------------

POINTING_GAME = Score(
    "pointing_game",
    "pointing game",
    True,
    "share of the map's maximum that falls on the object (Zhang et al. 2018): 1 = a hit, 0 = a miss",
)
ENERGY_POINTING_GAME = Score(
    "energy_pointing_game",
    "energy pointing game",
    True,
    "share of the map's total mass inside the object (Wang et al. 2020)",
)
RELEVANCE_RANK_ACCURACY = Score(
    "relevance_rank_accuracy",
    "relevance rank accuracy",
    True,
    "share of the K highest pixels that lie inside the object, K its size in pixels (Arras et al. 2022)",
)
LOCALISATION: tuple[Score, ...] = (POINTING_GAME, ENERGY_POINTING_GAME, RELEVANCE_RANK_ACCURACY)
"""The localisation scores, one column each in a localisation table (one row per image and condition)."""


# --- sanity and worst case ---------------------------------------------------------------------

PIXEL_SPEARMAN = Score(
    "pixel_spearman", "pixel Spearman ρ", True, "Spearman correlation of the pixels of two CAMs (average ranks)"
)
RANDOMISATION_RBO = Score(
    "randomisation_rbo",
    "RBO r, randomised model",
    False,
    "RBO of the region rankings of the fully randomised model's CAM and the trained model's "
    "(lower = the map depends on what the model learned)",
)
RANDOMISATION_SPEARMAN = Score(
    "randomisation_spearman",
    "pixel Spearman ρ, randomised model",
    False,
    "Spearman correlation of the pixels of the fully randomised model's CAM and the trained model's "
    "(lower = the map depends on what the model learned)",
)
RANDOMISATION_SSIM = Score(
    "randomisation_ssim",
    "SSIM, randomised model",
    False,
    "SSIM of the fully randomised model's CAM and the trained model's "
    "(lower = the map depends on what the model learned)",
)
RANDOMISATION: tuple[Score, ...] = (RANDOMISATION_RBO, RANDOMISATION_SPEARMAN, RANDOMISATION_SSIM)
"""The model randomisation test's scores at full randomisation (the last stage), RBO first: the
randomisation similarity of a CAM. Per stage they are the columns rbo, pixel_spearman and ssim
of the randomisation table; a model-free baseline scores 1 by construction."""
WORST_CASE_CONSISTENCY = Score(
    "worst_case_consistency",
    "worst-case C",
    True,
    "mean RBO r of the explanation attack's images, which keep the predicted class: consistency in "
    "the worst case within the L-inf budget",
)


# --- axes of trust -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """One axis along which a CAM earns trust, with the scores that measure it.

    ``name``: the key in tables (trust.csv, the statistics); ``label``: short text for figures;
    ``scores``: the scores on this axis, each with its own direction; ``description``: the question
    the axis answers, one sentence for captions and docs."""

    name: str
    label: str
    scores: tuple[Score, ...]
    description: str


ROBUSTNESS_AXIS = Axis(
    "robustness",
    "Robustness",
    (RM,),
    "does the map's region ranking hold when noise keeps the class and move when it changes it",
)
FAITHFULNESS_AXIS = Axis(
    "faithfulness", "Faithfulness", FAITHFULNESS, "does the model's prediction need what the map points at"
)
LOCALISATION_AXIS = Axis(
    "localisation", "Localisation", LOCALISATION, "does the map point at the object (where ground truth exists)"
)
MODEL_DEPENDENCE_AXIS = Axis(
    "model_dependence",
    "Model dependence",
    RANDOMISATION,
    "does the map change when the model's learned weights are redrawn (a map that does not explains "
    "the image, not the model)",
)
WORST_CASE_AXIS = Axis(
    "worst_case",
    "Worst case",
    (WORST_CASE_CONSISTENCY,),
    "does the map's region ranking hold against the worst perturbation within a small budget that keeps the class",
)
AXES: tuple[Axis, ...] = (ROBUSTNESS_AXIS, FAITHFULNESS_AXIS, LOCALISATION_AXIS, MODEL_DEPENDENCE_AXIS, WORST_CASE_AXIS)
"""The axes of the trust summary, in display order."""


def axis_of(score: str) -> Axis:
    """The axis a score (by its column name) belongs to; KeyError naming the known scores."""
    for axis in AXES:
        if any(entry.name == score for entry in axis.scores):
            return axis
    known = [entry.name for axis in AXES for entry in axis.scores]
    raise KeyError(f"score {score!r} is on no axis; scores on an axis: {', '.join(known)}")
