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


def iou_column(topk: float = DEFAULT_TOPK) -> str:
    """Column of the top-k pixel IoU: ``iou_top20`` for the top 20 %."""
    return f"iou_top{round(100 * topk):d}"


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


CONSISTENCY = Score("consistency", "Consistency C", True, "mean RBO r over the class-preserving pairs")
RESPONSIVENESS = Score("responsiveness", "Responsiveness R", True, "mean 1 - r over the class-changing pairs")
RM = Score("rm", "RM = C × R", True, "the robustness metric, consistency times responsiveness")
ROBUSTNESS: tuple[Score, ...] = (CONSISTENCY, RESPONSIVENESS, RM)
"""The robustness summary's estimates, each with ``_lo`` and ``_hi`` CI columns."""

PRESERVING = "preserving"
CHANGING = "changing"
SETS: dict[str, str] = {PRESERVING: "class-preserving pairs", CHANGING: "class-changing pairs"}
"""The two sets of pairs by whether the noise changed the predicted class."""
SET_SCORES: dict[str, Score] = {PRESERVING: CONSISTENCY, CHANGING: RESPONSIVENESS}
"""What each set's value measures: r on class-preserving pairs, 1 - r on class-changing pairs."""

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
