"""Faithfulness: does the model's prediction need what the map points at?

Three metrics on the clean images and the explained class, each batched over (image, step) on
the device of the inputs (:mod:`.perturbation` holds what they share):

- :func:`deletion_insertion` (Petsiuk et al. 2018): the target-class probability as the pixels
  are deleted (insertion: restored), highest CAM value first, as an AUC in [0, 1];
- :func:`road` (Rong et al. 2022): ROAD MoRF and LeRF, noisy linear imputation of the most or
  least relevant pixels at given percentages;
- :func:`region_deletion` (IROF-like, Rieger & Hansen 2020): the clean image's regions deleted
  in the order of the region ranking the robustness score compares, as an AUC.

The scores, with their directions, are :data:`camrobust.vocabulary.FAITHFULNESS`.
"""

from __future__ import annotations

from camrobust.faithfulness.deletion_insertion import (
    DeletionInsertion,
    DeletionInsertionSettings,
    deletion_insertion,
    pixel_counts,
)
from camrobust.faithfulness.perturbation import (
    DEFAULT_BLUR_SIGMA,
    REFERENCES,
    batched_probabilities,
    gaussian_blur,
    masked_probabilities,
    pixel_ranks,
    reference_images,
    target_probabilities,
    trapezoid_auc,
)
from camrobust.faithfulness.region_deletion import (
    RegionDeletion,
    RegionDeletionSettings,
    quantus_irof,
    region_deletion,
    region_ranks,
)
from camrobust.faithfulness.road import Road, RoadSettings, noisy_linear_imputation, removed_count, road

__all__ = [
    "DEFAULT_BLUR_SIGMA",
    "REFERENCES",
    "DeletionInsertion",
    "DeletionInsertionSettings",
    "RegionDeletion",
    "RegionDeletionSettings",
    "Road",
    "RoadSettings",
    "batched_probabilities",
    "deletion_insertion",
    "gaussian_blur",
    "masked_probabilities",
    "noisy_linear_imputation",
    "pixel_counts",
    "pixel_ranks",
    "quantus_irof",
    "reference_images",
    "region_deletion",
    "region_ranks",
    "removed_count",
    "road",
    "target_probabilities",
    "trapezoid_auc",
]
