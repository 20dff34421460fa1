"""Applying a noise to uint8 images: :func:`perturb` (model-free noises) and :func:`attack`.

Images go in and out as uint8 (N, H, W, 3). The arithmetic runs batched in torch on the chosen
device, ``batch_size`` images at a time (it bounds memory only): image i's randomness comes
from (namespace, noise, severity, ids[i], seed) alone (:mod:`camrobust.noise.draws`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from camrobust.devices import resolve_device
from camrobust.noise.attacks import Forward
from camrobust.noise.catalogue import ATTACKS, PIXEL_NOISES, noise_spec, severity_parameter
from camrobust.noise.draws import generators
from camrobust.noise.pixels import normaliser, to_uint8, to_unit_nchw

_EXPLANATION_ATTACK = (
    "noise {noise!r} attacks a CAM, not the prediction, and needs the model, its target layer and "
    "the images' segments; call camrobust.noise.explanation_attack_images(model, ...) instead"
)


@dataclass(frozen=True)
class AttackResult:
    """Adversarial images uint8 (N, H, W, 3), clean and adversarial predictions int64 (N,).

    ``adv_pred`` is the prediction on the stored (uint8-rounded) adversarial image.
    """

    images: np.ndarray
    clean_pred: np.ndarray
    adv_pred: np.ndarray


def perturb(
    images: np.ndarray,
    noise: str,
    severity: int,
    seed: int,
    ids: Sequence[str],
    *,
    namespace: str = "",
    params: Any = None,
    device: torch.device | str | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """Apply a model-free noise at ``severity`` to uint8 images (N, H, W, 3); returns uint8.

    Image i's randomness comes from (namespace, noise, severity, ids[i], seed) alone.
    ``device`` (default CPU) runs the arithmetic; ``batch_size`` bounds memory only.
    """
    spec = noise_spec(noise)
    if spec.kind == "explanation_attack":
        raise ValueError(_EXPLANATION_ATTACK.format(noise=noise))
    if spec.kind == "attack":
        raise ValueError(
            f"noise {noise!r} is an adversarial attack and needs a model; "
            f"call camrobust.noise.attack(model, ...) instead (perturb() takes: {', '.join(PIXEL_NOISES)})"
        )
    _check_batch(images, ids, batch_size)
    value = severity_parameter(noise, severity, params)
    target = torch.device("cpu") if device is None else resolve_device(str(device))
    noisy = np.empty_like(images)
    for start in range(0, len(images), batch_size):
        chunk = slice(start, start + batch_size)
        x = torch.tensor(np.ascontiguousarray(images[chunk]), dtype=torch.float64, device=target) / 255
        noisy[chunk] = (
            to_uint8(spec.fn(x, value, generators(namespace, noise, severity, seed, ids[chunk]))).cpu().numpy()
        )
    return noisy


def attack(
    model: nn.Module,
    images: np.ndarray,
    noise: str,
    severity: int,
    seed: int,
    ids: Sequence[str],
    *,
    mean: Sequence[float],
    std: Sequence[float],
    namespace: str = "",
    targets: np.ndarray | Sequence[int] | None = None,
    batch_size: int = 32,
    device: torch.device | str | None = None,
    params: Any = None,
) -> AttackResult:
    """Untargeted gradient attack (fgsm / pgd) in pixel space [0, 1], rounded to uint8.

    The model sees ``(x - mean) / std`` per channel and runs in eval mode (its train/eval mode
    is restored afterwards); the attack moves away from ``targets`` (default: the clean
    prediction). ``device`` defaults to the device of the model's parameters.
    """
    spec = noise_spec(noise)
    if spec.kind == "explanation_attack":
        raise ValueError(_EXPLANATION_ATTACK.format(noise=noise))
    if spec.kind != "attack":
        raise ValueError(
            f"noise {noise!r} needs no model; call camrobust.noise.perturb() (attack() takes: {', '.join(ATTACKS)})"
        )
    _check_batch(images, ids, batch_size)
    labels = _check_targets(targets, len(images))
    eps = severity_parameter(noise, severity, params)
    target = _model_device(model) if device is None else resolve_device(str(device))
    forward = _normalised_forward(model, mean, std, target)
    adversarial = np.empty_like(images)
    clean_pred = np.empty(len(images), dtype=np.int64)
    adv_pred = np.empty(len(images), dtype=np.int64)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(images), batch_size):
            chunk = slice(start, start + batch_size)
            x = to_unit_nchw(torch.tensor(np.ascontiguousarray(images[chunk]), device=target))
            with torch.no_grad():
                predicted = forward(x).argmax(dim=1)
            away_from = predicted if labels is None else labels[chunk].to(target)
            chunk_generators = generators(namespace, noise, severity, seed, ids[chunk])
            stored = to_uint8(spec.fn(forward, x, away_from, eps, chunk_generators))
            with torch.no_grad():
                adv_pred[chunk] = forward(to_unit_nchw(stored.permute(0, 2, 3, 1))).argmax(dim=1).cpu().numpy()
            clean_pred[chunk] = predicted.cpu().numpy()
            adversarial[chunk] = stored.permute(0, 2, 3, 1).cpu().numpy()
    finally:
        model.train(was_training)
    return AttackResult(adversarial, clean_pred, adv_pred)


def success_rate(result: AttackResult) -> float:
    """Fraction of images whose prediction the attack changed (adv_pred != clean_pred)."""
    if len(result.clean_pred) == 0:
        raise ValueError("success_rate: the attack result holds no images")
    return float(np.mean(result.adv_pred != result.clean_pred))


def _check_batch(images: Any, ids: Sequence[str], batch_size: int) -> None:
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        kind = images.dtype if isinstance(images, np.ndarray) else type(images).__name__
        raise ValueError(f"images: expected a uint8 numpy array (N, H, W, 3), got {kind}")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images: expected shape (N, H, W, 3) with 3 RGB channels, got {images.shape}")
    if len(ids) != len(images):
        raise ValueError(f"ids: got {len(ids)} ids for {len(images)} images")
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")


def _check_targets(targets: np.ndarray | Sequence[int] | None, count: int) -> Tensor | None:
    if targets is None:
        return None
    labels = torch.as_tensor(np.asarray(targets))
    if labels.shape != (count,) or labels.is_floating_point():
        raise ValueError(
            f"targets: expected {count} integer class indices, got shape {tuple(labels.shape)} {labels.dtype}"
        )
    return labels.long()


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device


def _normalised_forward(model: nn.Module, mean: Sequence[float], std: Sequence[float], device: torch.device) -> Forward:
    """x (N, 3, H, W) in [0, 1] -> model((x - mean) / std); one mean/std value feeds the luminance."""
    normalise = normaliser(mean, std, device)
    return lambda x: model(normalise(x))
