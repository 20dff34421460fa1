"""The trust kernels on one chunk of images, shared by the workflow's jobs and the notebook:
faithfulness (:mod:`camrobust.faithfulness`) and localisation (:mod:`camrobust.localisation`)
scores of maps at image resolution, computed on the device of the tensors given."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from camrobust import vocabulary

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from camrobust.core.model import ModelInput


@dataclass(frozen=True)
class FaithfulnessSettings:
    """The ``faithfulness:`` config section (see :mod:`camrobust.faithfulness` for each metric):
    ``steps`` points of the deletion and insertion curves, the ``deletion_baseline``, the
    ``insertion_start``, ROAD's ``road_percentages`` and imputation ``road_noise``, the
    ``region_baseline`` of region deletion and ``batch_size`` perturbed inputs per forward."""

    steps: int = 21
    deletion_baseline: str = "mean"
    insertion_start: str = "blur"
    road_percentages: tuple[float, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 90)
    road_noise: float = 0.01
    region_baseline: str = "mean"
    batch_size: int = 64

    @classmethod
    def of_config(cls, section: Mapping[str, Any], batch_size: int) -> FaithfulnessSettings:
        """The settings of a validated ``faithfulness:`` section (``enabled`` aside)."""
        values = {key: value for key, value in section.items() if key != "enabled"}
        values["road_percentages"] = tuple(values.get("road_percentages", cls.road_percentages))
        return cls(**values, batch_size=batch_size)


def faithfulness_scores(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    maps: torch.Tensor,
    segments: torch.Tensor,
    targets: torch.Tensor,
    settings: FaithfulnessSettings,
    *,
    ids: Sequence[str],
    seed: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> dict[str, np.ndarray]:
    """The :data:`camrobust.vocabulary.FAITHFULNESS` scores (N,) of normalised ``inputs``
    (N,C,H,W), ranked by the ``maps`` (N,H,W), the clean images' ``segments`` (N,H,W), for the
    classes ``targets`` (N,), on the inputs' device."""
    from camrobust import faithfulness

    curves = faithfulness.deletion_insertion(
        model,
        inputs,
        maps,
        targets,
        faithfulness.DeletionInsertionSettings(
            steps=settings.steps,
            deletion_baseline=settings.deletion_baseline,  # type: ignore[arg-type]
            insertion_start=settings.insertion_start,  # type: ignore[arg-type]
            batch_size=settings.batch_size,
        ),
        mean=mean,
        std=std,
    )
    road = faithfulness.road(
        model,
        inputs,
        maps,
        targets,
        faithfulness.RoadSettings(settings.road_percentages, settings.road_noise, settings.batch_size),
        ids=ids,
        seed=seed,
    )
    regions = faithfulness.region_deletion(
        model,
        inputs,
        maps,
        segments,
        targets,
        faithfulness.RegionDeletionSettings(baseline=settings.region_baseline, batch_size=settings.batch_size),  # type: ignore[arg-type]
        mean=mean,
        std=std,
    )
    values = (curves.deletion_auc, curves.insertion_auc, road.morf_score, road.lerf_score, regions.auc)
    return {
        score.name: value.detach().double().cpu().numpy()
        for score, value in zip(vocabulary.FAITHFULNESS, values, strict=True)
    }


def localisation_scores(maps: torch.Tensor, masks: torch.Tensor, *, tolerance: float) -> dict[str, np.ndarray]:
    """The :data:`camrobust.vocabulary.LOCALISATION` scores (N,) of ``maps`` (N,H,W) against the
    bool ``masks`` (N,H,W), on the maps' device; ``tolerance``: the pointing game's, in px."""
    from camrobust import localisation

    values = (
        localisation.pointing_game(maps, masks, tolerance=tolerance),
        localisation.energy_pointing_game(maps, masks),
        localisation.relevance_rank_accuracy(maps, masks),
    )
    return {
        score.name: value.detach().double().cpu().numpy()
        for score, value in zip(vocabulary.LOCALISATION, values, strict=True)
    }


def device_pixel_maps(raw: np.ndarray, image_size: Sequence[int], device: torch.device) -> torch.Tensor:
    """Raw maps (..., h, w) as image-resolution maps in [0, 1] on ``device``
    (:func:`camrobust.cams.postprocess`, as :func:`camrobust.core.maps.upsampled_maps` on the CPU)."""
    import torch

    from camrobust import cams

    return cams.postprocess(torch.from_numpy(np.ascontiguousarray(raw)).to(device), image_size)


def faithfulness_frame(
    model: torch.nn.Module,
    model_input: ModelInput,
    images: np.ndarray,
    raw_maps: np.ndarray,
    segments: np.ndarray,
    targets: np.ndarray,
    *,
    ids: Sequence[str],
    keys: Mapping[str, str],
    settings: FaithfulnessSettings,
    seed: int,
) -> pd.DataFrame:
    """The faithfulness rows of one chunk: ``keys`` (dataset, model, cam), ``image_id``, the
    explained class ``target`` and the :data:`camrobust.vocabulary.FAITHFULNESS` scores of uint8
    ``images`` (n, H, W, 3), their raw maps (n, h, w), segments (n, H, W) and ``targets`` (n,)."""
    import pandas as pd
    import torch

    device = model_input.device
    inputs = model_input.tensor(images)
    scores = faithfulness_scores(
        model,
        inputs,
        device_pixel_maps(raw_maps, images.shape[1:3], device),
        torch.as_tensor(np.asarray(segments).astype(np.int64), device=device),
        torch.as_tensor(np.asarray(targets).astype(np.int64), device=device),
        settings,
        ids=ids,
        seed=seed,
        mean=model_input.mean,
        std=model_input.std,
    )
    return pd.DataFrame({**dict(keys), "image_id": list(ids), "target": np.asarray(targets).astype(np.int64), **scores})


def localisation_frame(
    raw_maps: np.ndarray,
    masks: np.ndarray,
    *,
    ids: Sequence[str],
    condition: str,
    severities: Sequence[int],
    keys: Mapping[str, str],
    tolerance: float,
    device: torch.device,
) -> pd.DataFrame:
    """The localisation rows of one chunk: ``keys`` (dataset, model, cam), ``condition``,
    ``severity``, ``image_id`` and the :data:`camrobust.vocabulary.LOCALISATION` scores of the raw
    maps (n, S, h, w) of one condition against the bool ``masks`` (n, H, W), image by image and
    severity by severity."""
    import pandas as pd
    import torch

    s = len(severities)
    maps = device_pixel_maps(raw_maps, masks.shape[1:], device).flatten(0, 1)
    truth = torch.from_numpy(np.asarray(masks, dtype=bool)).to(device).repeat_interleave(s, 0)
    scores = localisation_scores(maps, truth, tolerance=tolerance)
    return pd.DataFrame(
        {
            **dict(keys),
            "condition": condition,
            "severity": np.tile(np.asarray(severities, dtype=np.int64), len(ids)),
            "image_id": np.repeat(np.asarray(list(ids), dtype=object), s),
            **scores,
        }
    )


def faithfulness_rows(
    model: torch.nn.Module,
    model_input: ModelInput,
    images: np.ndarray,
    maps: Mapping[str, np.ndarray],
    segments: np.ndarray,
    targets: np.ndarray,
    *,
    ids: Sequence[str],
    keys: Mapping[str, Mapping[str, str]],
    settings: Mapping[str, Any] | None,
    seed: int,
) -> pd.DataFrame:
    """The faithfulness rows (:func:`faithfulness_frame`) of every CAM's raw maps (n, 1, h, w) in
    ``maps`` on the clean ``images``, ``model_input.batch_size`` images at a time; ``settings``:
    the config's ``faithfulness:`` section (its defaults where empty)."""
    import pandas as pd

    from camrobust.io.chunks import image_chunks

    chosen = FaithfulnessSettings.of_config(dict(settings or {}), model_input.batch_size)
    frames = [
        faithfulness_frame(
            model,
            model_input,
            images[rows],
            maps[cam][rows, 0],
            segments[rows],
            targets[rows],
            ids=ids[rows],
            keys=keys[cam],
            settings=chosen,
            seed=seed,
        )
        for cam in maps
        for rows in image_chunks(len(images), model_input.batch_size)
    ]
    return pd.concat(frames, ignore_index=True)


def localisation_rows(
    maps: Mapping[str, np.ndarray],
    masks: np.ndarray,
    ids: Sequence[str],
    condition: str,
    severities: Sequence[int],
    keys: Mapping[str, Mapping[str, str]],
    tolerance: float,
    model_input: ModelInput,
) -> list[pd.DataFrame]:
    """The localisation rows (:func:`localisation_frame`) of every CAM's raw maps (n, S, h, w) in
    ``maps`` under one condition, CHUNK_SIZE images at a time."""
    from camrobust.io.chunks import CHUNK_SIZE, image_chunks

    return [
        localisation_frame(
            maps[cam][rows],
            masks[rows],
            ids=ids[rows],
            condition=condition,
            severities=severities,
            keys=keys[cam],
            tolerance=tolerance,
            device=model_input.device,
        )
        for cam in maps
        for rows in image_chunks(len(masks), CHUNK_SIZE)
    ]


def checked_masks(masks: np.ndarray | None, n: int, h: int, w: int) -> np.ndarray | None:
    """``masks`` as a bool array (n, h, w), one per image (None stays None); ValueError otherwise."""
    if masks is None:
        return None
    array = np.asarray(masks)
    if array.shape != (n, h, w) or array.dtype != bool:
        raise ValueError(
            f"masks: expected a bool array ({n}, {h}, {w}), one per image, got {array.dtype} {array.shape}"
        )
    return array
