"""Cascading model randomisation (Adebayo et al. 2018, "Sanity checks for saliency maps").

Does a CAM depend on what the model learned? The model's stages (:mod:`.stages`) are
re-initialised one after the other from the logits down, cumulatively: at stage k the stages
1..k are random and the rest trained. At each stage the CAM of the randomised model, for the
SAME class index as the trained model's, is compared with the trained model's CAM:

- ``pixel_spearman``: Spearman's rho of the two maps' pixels (average ranks for ties, Pearson
  correlation of the ranks), as Quantus' MPRT with its default ``correlation_spearman``;
- ``ssim``: SSIM of the maps (7 x 7 window, data range 1);
- ``rbo``: RBO of the region rankings on the clean image's segments, as every robustness
  score; the other similarities of a score table (region Spearman, top-k IoU, L1,
  sensitivity) come with them.

Maps are post-processed as every CAM (:func:`camrobust.cams.postprocess`: ReLU, min-max,
upsampled to the image). Lower similarity = the map depends on the model: a map that survives
full randomisation cannot explain what the model learned. A model-free map (a baseline) is the
reference: its similarity is 1 at every stage by construction.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from camrobust import vocabulary
from camrobust.cams.map_function import MapFunction
from camrobust.cams.postprocess import postprocess
from camrobust.sanity.stages import Reinitialise, randomisation_stages, reset_stage
from camrobust.scoring import pair_similarities

PIXEL_SPEARMAN = vocabulary.PIXEL_SPEARMAN.name
"""Column of the pixel-map Spearman correlation; the others are those of a score table."""


@dataclass(frozen=True)
class RandomisationResult:
    """Similarity of the randomised model's CAM to the trained model's, per image and stage.

    ``stages``: stage paths, from the logits down (stage k randomises stages[0..k]);
    ``targets``: the class each map explains (N,), the trained model's; ``scores``: per score
    name an (N, S) array (float64; ``n_regions`` int64; ``note`` str, why a score is NaN)."""

    stages: tuple[str, ...]
    targets: Tensor
    scores: dict[str, np.ndarray]

    def columns(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The long table, one row per (image, stage), image-major: ``image_id``, ``stage_index``
        (1 = first stage randomised), ``stage``, ``target`` and every score."""
        n, s = len(ids), len(self.stages)
        if n != len(self.targets):
            raise ValueError(f"ids: got {n} ids for {len(self.targets)} images")
        table = {
            "image_id": np.repeat(np.asarray(ids, dtype=str), s),
            "stage_index": np.tile(np.arange(1, s + 1, dtype=np.int64), n),
            "stage": np.tile(np.asarray(self.stages, dtype=str), n),
            "target": np.repeat(self.targets.cpu().numpy().astype(np.int64), s),
        }
        return table | {name: values.reshape(n * s) for name, values in self.scores.items()}


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..P of each row of ``values`` (B, P), ties given the mean of the ranks they span,
    as ``scipy.stats.rankdata(values, axis=1)`` (whose import costs a job seconds)."""
    ranks = np.empty(values.shape, dtype=np.float64)
    n = values.shape[1]
    for row, order in enumerate(np.argsort(values, axis=1, kind="stable")):
        ordered = values[row, order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        ends = np.r_[starts[1:], n]
        ranks[row, order] = np.repeat((starts + ends + 1) / 2, ends - starts)
    return ranks


def pixel_spearman(maps_a: np.ndarray | Tensor, maps_b: np.ndarray | Tensor) -> np.ndarray:
    """Spearman's rho per pair of maps (B, H, W) -> (B,) float64: the Pearson correlation of the
    pixels' average ranks (``scipy.stats.spearmanr`` per pair). NaN where a map is constant or
    holds a non-finite value."""
    a, b = (_numpy(m).reshape(len(m), -1).astype(np.float64) for m in (maps_a, maps_b))
    if a.shape != b.shape:
        raise ValueError(f"maps_a and maps_b must share one shape, got {a.shape} and {b.shape}")
    finite = np.asarray(np.isfinite(a).all(1) & np.isfinite(b).all(1))
    ranks = [average_ranks(np.where(finite[:, None], m, 0.0)) for m in (a, b)]
    centred = [r - r.mean(1, keepdims=True) for r in ranks]
    spread = np.sqrt((centred[0] ** 2).sum(1) * (centred[1] ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (centred[0] * centred[1]).sum(1) / spread
    return np.where(finite & (spread > 0), rho, np.nan)


def cascading_randomisation(
    model: nn.Module,
    inputs: Tensor,
    segments: np.ndarray | Tensor,
    map_function: MapFunction,
    *,
    targets: Tensor | None = None,
    stages: Sequence[str] | None = None,
    seed: int = 0,
    reinitialise: Reinitialise = reset_stage,
    p: float = 0.9,
    topk: float = 0.2,
    batch_size: int = 32,
) -> RandomisationResult:
    """Cascading randomisation of ``model``'s stages with the CAM ``map_function``.

    ``inputs``: (N,3,H,W) as the model takes them (normalised), on the model's device;
    ``segments``: the clean images' region labels (N,H,W); ``targets``: the class to explain
    (None = the trained model's prediction, ``batch_size`` images a forward); ``stages``:
    module paths from the logits down (None = derived, :func:`randomisation_stages`);
    ``reinitialise(stage, path, seed)`` redraws a stage (default :func:`reset_stage`, seeded by
    (seed, stage path, module path), so the random weights do not depend on the images or the
    job split); ``p`` and ``topk``: RBO persistence and the top-k IoU share, as the score table.

    The model is not modified: one deep copy is randomised stage after stage. The map function
    is called with that copy, so it must look its target layer up in the model it is given
    (:func:`camrobust.cams.cam_map_function`); a model-free map ignores it."""
    if model.training:
        raise ValueError("model: in training mode; call model.eval() (BatchNorm/Dropout would change the maps)")
    if inputs.ndim != 4 or len(inputs) == 0:
        raise ValueError(f"inputs: expected a non-empty (N,C,H,W) batch, got {tuple(inputs.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
    paths = randomisation_stages(model, inputs[:1], stages)
    if targets is None:
        with torch.no_grad():
            targets = torch.cat(
                [model(inputs[i : i + batch_size]).argmax(1) for i in range(0, len(inputs), batch_size)]
            )
    size = inputs.shape[-2:]
    trained = postprocess(map_function(model, inputs, targets), size)
    randomised = copy.deepcopy(model)
    per_stage: list[dict[str, np.ndarray]] = []
    for path in paths:
        reinitialise(randomised.get_submodule(path), path, seed)
        maps = postprocess(map_function(randomised, inputs, targets), size)
        scores = pair_similarities(trained, maps, segments, p, topk)
        scores[PIXEL_SPEARMAN] = pixel_spearman(trained, maps)
        scores["note"] = _with_constant_maps(scores)
        per_stage.append(scores)
    del randomised
    names = list(per_stage[0])
    return RandomisationResult(
        tuple(paths), targets, {name: np.stack([scores[name] for scores in per_stage], 1) for name in names}
    )


def _with_constant_maps(scores: dict[str, np.ndarray]) -> np.ndarray:
    """The notes of ``pair_similarities`` plus the reason for a NaN pixel Spearman of finite maps."""
    constant = np.isnan(scores[PIXEL_SPEARMAN]) & ~np.isnan(scores["ssim"])
    reason = "pixel spearman undefined: constant map"
    notes = scores["note"].astype(object)
    notes[constant] = [f"{note}; {reason}" if note else reason for note in notes[constant]]
    return notes.astype(str)


def _numpy(maps: np.ndarray | Tensor) -> np.ndarray:
    return maps.detach().cpu().numpy() if isinstance(maps, Tensor) else np.asarray(maps)
