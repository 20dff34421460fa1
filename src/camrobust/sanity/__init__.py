"""Sanity checks of a CAM: does the map depend on what the model learned?

:mod:`.randomisation`: the cascading model randomisation of Adebayo et al. (2018), stage by
stage from the logits down (:mod:`.stages` derives the stages and redraws their parameters).
"""

from __future__ import annotations

from camrobust.sanity.randomisation import (
    PIXEL_SPEARMAN,
    RandomisationResult,
    cascading_randomisation,
    pixel_spearman,
)
from camrobust.sanity.stages import Reinitialise, randomisation_stages, reset_stage

__all__ = [
    "PIXEL_SPEARMAN",
    "RandomisationResult",
    "Reinitialise",
    "cascading_randomisation",
    "pixel_spearman",
    "randomisation_stages",
    "reset_stage",
]
