"""How similar a clean and a noisy CAM are: RBO of their region rankings and the measures beside it.

- :mod:`camrobust.scoring.rbo`: rank-biased overlap with ties (scalar and batched);
- :mod:`camrobust.scoring.similarities`: region importance, Spearman, top-k IoU, SSIM, L1, sensitivity;
- :mod:`camrobust.scoring.pairs`: every score of a batch of (clean, noisy) pairs, with notes.
"""

from camrobust.scoring.pairs import pair_keys, pair_similarities
from camrobust.scoring.rbo import rbo, rbo_bounds, rbo_scores, tie_groups
from camrobust.scoring.similarities import (
    l1_distance,
    region_importance,
    relative_sensitivity,
    spearman_scores,
    ssim_scores,
    topk_iou,
)

__all__ = [
    "l1_distance",
    "pair_keys",
    "pair_similarities",
    "rbo",
    "rbo_bounds",
    "rbo_scores",
    "region_importance",
    "relative_sensitivity",
    "spearman_scores",
    "ssim_scores",
    "tie_groups",
    "topk_iou",
]
