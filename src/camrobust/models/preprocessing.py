"""How images are fed to a model: its input size and normalisation, and the conversion of uint8
images to the normalised float batch it takes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from camrobust.models.zoo import check_arch, resolve_weights
from camrobust.registry import SMALL_ARCHS

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
SMALL_CNN_MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
SMALL_CNN_STD: tuple[float, float, float] = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Preprocessing:
    """Input size and normalisation a model expects (images are resized to input_size)."""

    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def default_preprocessing(arch: str, weights: str | None = None, image_size: int = 64) -> Preprocessing:
    """Small CNNs: ``image_size`` and mean = std = 0.5. torchvision archs: the weights' own crop size
    and mean/std (ImageNet statistics at 224 px when ``weights`` is None)."""
    check_arch(arch)
    if arch in SMALL_ARCHS:
        return Preprocessing(image_size, SMALL_CNN_MEAN, SMALL_CNN_STD)
    if weights is None:
        return Preprocessing(224, IMAGENET_MEAN, IMAGENET_STD)
    transform = resolve_weights(arch, weights).transforms()
    return Preprocessing(int(transform.crop_size[0]), tuple(transform.mean), tuple(transform.std))


def to_model_input(
    images: np.ndarray | torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """float32 (N,3,H,W) on ``device``: ``(images / 255 - mean) / std`` from uint8 (N,H,W,3).
    With one mean and std value the model gets the luminance, (N,1,H,W)."""
    if images.dtype not in (np.uint8, torch.uint8) or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images: expected uint8 (N,H,W,3), got {images.dtype} {tuple(images.shape)}")
    channels = len(mean)
    if channels not in (1, 3) or len(std) != channels:
        raise ValueError(f"mean/std: expected 3 values each (or 1, for luminance), got {mean!r} and {std!r}")
    batch = torch.as_tensor(images).to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255.0)
    if channels == 1:
        from camrobust.noise import luminance

        batch = luminance(batch)
    mean_t = torch.as_tensor(mean, dtype=torch.float32, device=batch.device).view(1, channels, 1, 1)
    std_t = torch.as_tensor(std, dtype=torch.float32, device=batch.device).view(1, channels, 1, 1)
    return batch.sub_(mean_t).div_(std_t).contiguous()
