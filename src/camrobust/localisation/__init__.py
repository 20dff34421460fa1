"""Localisation: does the map point at the object? Scores of maps against ground-truth masks.

No model pass: maps (N,H,W) at image resolution and boolean object masks (N,H,W) in, one score
per image out, on the maps' device (:mod:`.scores`). The masks come from the shapes datasets,
a folder of mask images or ImageNet's validation boxes (:mod:`camrobust.datasets.masks`). The
scores, with their directions, are :data:`camrobust.vocabulary.LOCALISATION`.
"""

from __future__ import annotations

from camrobust.localisation.scores import dilate, energy_pointing_game, pointing_game, relevance_rank_accuracy

__all__ = ["dilate", "energy_pointing_game", "pointing_game", "relevance_rank_accuracy"]
