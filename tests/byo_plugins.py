"""A CAM plugin of each kind and a noise plugin, as a user's module on the Python path."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


def positive_gradient_cam(activations: Tensor, gradients: Tensor) -> Tensor:
    """Channel weights = mean positive gradient; raw map = weighted sum of activations."""
    weights = gradients.clamp_min(0).mean((2, 3), keepdim=True)
    return (weights * activations).sum(1)


def activation_norm_cam(model: nn.Module, target_layer: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
    """L2 norm over channels of the target layer's output (one model pass)."""
    seen: list[Tensor] = []
    handle = target_layer.register_forward_hook(lambda _m, _a, out: seen.append(out.detach()))
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        handle.remove()
    return seen[0].norm(dim=1)


def salt(image: np.ndarray, fraction: float, generator: np.random.Generator) -> np.ndarray:
    """Set a random ``fraction`` of the pixels to white."""
    out = image.copy()
    out[generator.random(image.shape[:2]) < fraction] = 255
    return out


def wrong_dtype_noise(image: np.ndarray, fraction: float, generator: np.random.Generator) -> np.ndarray:
    return image.astype(np.float32)


def wrong_shape_cam(activations: Tensor, gradients: Tensor) -> Tensor:
    return activations.sum((1, 2))


def grey_cnn() -> nn.Module:
    """A 1-channel CNN for 3 classes with fixed weights (seed 0)."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)
    )
