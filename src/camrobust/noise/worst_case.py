"""The explanation attack on uint8 images, per severity, and its transfer to other CAMs.

:func:`explanation_attack_images` runs the search of :mod:`camrobust.noise.explanation_attack`
for one gradient-family CAM on uint8 images (N, H, W, 3) at each severity, ``batch_size``
images at a time. The batch bounds memory only: image i's random starts come from (namespace,
"explanation_attack", severity, ids[i], seed) alone and nothing mixes images, so the search is
the same for any batch size or job split, up to the last bits a batched convolution may round
differently (the maps and RBO show them; they could tip a gradient sign or an acceptance only
at an exact tie). The stage passes a namespace naming the dataset, as for every noise. CAMs without a cheap input gradient
(ScoreCAM, AblationCAM, ``uses: model`` plugins, model-free baselines) are evaluated on the
images found for another CAM, GradCAM by default (:func:`transfer_explanation_attack`): a
transfer attack, its result naming the CAM attacked in ``source_cam``.

The result has the layout of an explanation-attack store: the images (image, severity, y, x,
channel), their prediction and the class each map explains (image, severity), the CAM's raw
maps (image, severity, h, w) and their RBO against the clean ranking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from camrobust.cams.capture import Reshape
from camrobust.cams.map_function import MapFunction
from camrobust.cams.postprocess import postprocess
from camrobust.cams.target import resolve_target
from camrobust.devices import resolve_device
from camrobust.noise.catalogue import severity_parameter
from camrobust.noise.draws import generators
from camrobust.noise.explanation_attack import (
    AttackedCam,
    ExplanationAttackSettings,
    clean_view,
    explanation_attack,
    importances,
    ranking_rbo,
    region_labels,
)
from camrobust.noise.pixels import normaliser, to_unit_nchw

NOISE = "explanation_attack"


@dataclass(frozen=True)
class ExplanationAttackResult:
    """Per image and severity: ``images`` uint8 (N,S,H,W,3), ``pred`` int64 (N,S) (the clean
    prediction: the attack keeps it), ``target`` int64 (N,S) (the class the map explains),
    ``maps`` the CAM's raw maps float32 (N,S,h,w), ``rbo`` float64 (N,S) against the clean
    ranking, ``found`` bool (N,S) (an image other than the clean one was kept; always True
    for a transfer where the source found one); ``severity`` (S,), ``clean_pred`` (N,),
    ``clean_target`` (N,) (the class the clean map explains) and ``source_cam``, the CAM whose
    search found the images."""

    images: np.ndarray
    pred: np.ndarray
    target: np.ndarray
    maps: np.ndarray
    rbo: np.ndarray
    found: np.ndarray
    severity: np.ndarray
    clean_pred: np.ndarray
    clean_target: np.ndarray
    source_cam: str


def explanation_attack_images(
    model: nn.Module,
    images: np.ndarray,
    segments: np.ndarray,
    ids: Sequence[str],
    *,
    method: str,
    target_layer: str | nn.Module,
    mean: Sequence[float],
    std: Sequence[float],
    seed: int,
    severities: Sequence[int] = (1, 2, 3, 4, 5),
    namespace: str = "",
    settings: ExplanationAttackSettings | None = None,
    params: Any = None,
    targets: np.ndarray | Sequence[int] | None = None,
    reshape: Reshape | None = None,
    batch_size: int = 32,
    device: torch.device | str | None = None,
) -> ExplanationAttackResult:
    """The worst case of the gradient-family CAM ``method`` at each severity (L-inf budget
    ``severity_parameter("explanation_attack", s, params)``) for uint8 images (N,H,W,3) with
    their clean region labels ``segments`` (N,H,W). ``targets``: the class each image's maps
    explain (``cam_options.target: label``), None for its prediction. The model sees
    ``(x - mean) / std`` and runs in eval mode (its mode is restored afterwards); ``device``
    defaults to the model's."""
    settings = ExplanationAttackSettings() if settings is None else settings
    _check(images, segments, ids, batch_size)
    if not severities:
        raise ValueError("severities: empty; give at least one of 1..5")
    budgets = [float(severity_parameter(NOISE, s, params)) for s in severities]  # type: ignore[arg-type]
    labels = None if targets is None else torch.as_tensor(np.asarray(targets))
    if labels is not None and (labels.shape != (len(images),) or labels.is_floating_point()):
        raise ValueError(
            f"targets: expected {len(images)} integer class indices, got {tuple(labels.shape)} {labels.dtype}"
        )
    target = _device(model, device)
    was_training = model.training
    model.eval()
    try:
        cam = AttackedCam(model, resolve_target(model, target_layer), method, normaliser(mean, std, target), reshape)
        parts = []
        for start in range(0, len(images), batch_size):
            rows = slice(start, start + batch_size)
            x = to_unit_nchw(torch.as_tensor(np.ascontiguousarray(images[rows]), device=target))
            given = None if labels is None else labels[rows].to(target)
            clean = clean_view(cam, x, segments[rows], settings, given)
            found = []
            for severity, eps in zip(severities, budgets, strict=True):
                draws = generators(namespace, NOISE, severity, seed, ids[rows])
                found.append(explanation_attack(cam, clean, eps, draws, settings))
            parts.append((clean.pred, clean.explained, found))
    finally:
        model.train(was_training)

    def joined(values: list[torch.Tensor]) -> np.ndarray:
        return torch.cat(values).cpu().numpy()

    clean_targets = joined([clean_target for _, clean_target, _ in parts]).astype(np.int64)
    return ExplanationAttackResult(
        images=joined([torch.stack([_uint8(w.images) for w in found], 1) for _, _, found in parts]),
        pred=joined([torch.stack([w.pred for w in found], 1) for _, _, found in parts]).astype(np.int64),
        target=np.repeat(clean_targets[:, None], len(severities), 1),
        maps=joined([torch.stack([w.raw for w in found], 1) for _, _, found in parts]).astype(np.float32),
        rbo=np.concatenate([np.stack([w.rbo for w in found], 1) for _, _, found in parts]),
        found=np.concatenate([np.stack([w.found for w in found], 1) for _, _, found in parts]),
        severity=np.asarray(severities, dtype=np.int64),
        clean_pred=joined([pred for pred, _, _ in parts]).astype(np.int64),
        clean_target=clean_targets,
        source_cam=method,
    )


def transfer_explanation_attack(
    model: nn.Module,
    source: ExplanationAttackResult,
    images: np.ndarray,
    segments: np.ndarray,
    map_function: MapFunction,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    p: float = 0.9,
    batch_size: int = 32,
    device: torch.device | str | None = None,
) -> ExplanationAttackResult:
    """A CAM (``map_function``, e.g. :func:`camrobust.cams.cam_map_function` of ScoreCAM) on the
    images another CAM's search found (``source``): its raw maps of the classes the source's maps
    explain and their RBO against its own clean ranking (of ``source.clean_target``).
    ``images`` and ``segments`` are the clean ones ``source`` was computed from."""
    _check(images, segments, [""] * len(images), batch_size)
    if source.images.shape[0] != len(images) or source.images.shape[2:] != images.shape[1:]:
        raise ValueError(f"source: holds images {source.images.shape}, not of the clean images {images.shape}")
    target = _device(model, device)
    normalise = normaliser(mean, std, target)
    n_severities = len(source.severity)
    maps, rbo = [], []
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(images), batch_size):
            rows = slice(start, start + batch_size)
            clean = normalise(to_unit_nchw(torch.as_tensor(np.ascontiguousarray(images[rows]), device=target)))
            clean_target = torch.as_tensor(source.clean_target[rows], device=target)
            clean_map = postprocess(map_function(model, clean, clean_target), clean.shape[-2:])
            n_max = int(segments[rows].max()) + 1
            reference = importances(clean_map, segments[rows], n_max)
            _, valid = region_labels(segments[rows], n_max)
            batch_maps, batch_rbo = [], []
            for s in range(n_severities):
                adversarial = torch.as_tensor(np.ascontiguousarray(source.images[rows, s]), device=target)
                explained = torch.as_tensor(source.target[rows, s], device=target)
                raw = map_function(model, normalise(to_unit_nchw(adversarial)), explained)
                importance = importances(postprocess(raw, clean.shape[-2:]), segments[rows], n_max)
                batch_maps.append(raw.detach().float().cpu().numpy())
                batch_rbo.append(ranking_rbo(reference, importance, valid, p))
            maps.append(np.stack(batch_maps, 1))
            rbo.append(np.stack(batch_rbo, 1))
    finally:
        model.train(was_training)
    return ExplanationAttackResult(
        images=source.images,
        pred=source.pred,
        target=source.target,
        maps=np.concatenate(maps),
        rbo=np.concatenate(rbo),
        found=source.found,
        severity=source.severity,
        clean_pred=source.clean_pred,
        clean_target=source.clean_target,
        source_cam=source.source_cam,
    )


def _uint8(x: torch.Tensor) -> torch.Tensor:
    """x (N,3,H,W) of values k / 255 -> uint8 (N,H,W,3), exact."""
    return torch.round(x * 255).to(torch.uint8).permute(0, 2, 3, 1)


def _device(model: nn.Module, device: torch.device | str | None) -> torch.device:
    if device is not None:
        return resolve_device(str(device))
    parameter = next(model.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device


def _check(images: Any, segments: Any, ids: Sequence[str], batch_size: int) -> None:
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        got = f"{images.dtype} {images.shape}" if isinstance(images, np.ndarray) else type(images).__name__
        raise ValueError(f"images: expected a uint8 numpy array (N, H, W, 3), got {got}")
    if not isinstance(segments, np.ndarray) or segments.shape != images.shape[:3]:
        got = segments.shape if isinstance(segments, np.ndarray) else type(segments).__name__
        raise ValueError(f"segments: expected the clean images' labels (N, H, W) = {images.shape[:3]}, got {got}")
    if len(ids) != len(images):
        raise ValueError(f"ids: got {len(ids)} ids for {len(images)} images")
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
