"""Per-image random draws of the noises.

Each image draws from its own CPU ``torch.Generator`` keyed by (namespace, noise, severity,
image id, seed) (:func:`camrobust.seeding.torch_generator`), so its noise never depends on the
batch size, the device or the job split. Draws are made image by image on the CPU and then moved
to the device of the images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from camrobust.seeding import torch_generator

Generators = Sequence[torch.Generator]


def generators(namespace: str, noise: str, severity: int, seed: int, ids: Sequence[str]) -> list[torch.Generator]:
    """One generator per image id, keyed by (namespace, noise, severity, id, seed)."""
    return [torch_generator(namespace, noise, int(severity), str(image_id), int(seed)) for image_id in ids]


def standard_normal(x: Tensor, generators: Generators) -> Tensor:
    """N(0, 1) values shaped like x, each image's drawn from its own (CPU) generator."""
    return _per_image_draws(tuple(x.shape[1:]), generators, x, "normal")


def uniform(shape: tuple[int, ...], generators: Generators, like: Tensor) -> Tensor:
    """U[0, 1) values of shape (N, *shape), each image's drawn from its own (CPU) generator."""
    return _per_image_draws(shape, generators, like, "uniform")


def _per_image_draws(shape: tuple[int, ...], generators: Generators, like: Tensor, distribution: str) -> Tensor:
    """(N, *shape) draws of ``like``'s dtype on its device, image i's from ``generators[i]``."""
    draws = torch.empty((len(generators), *shape), dtype=like.dtype)
    for image, generator in zip(draws, generators, strict=True):
        if distribution == "normal":
            image.normal_(generator=generator)
        else:
            image.uniform_(generator=generator)
    return draws.to(like.device)


def draw_uniform(generator: torch.Generator, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    """U[low, high) float64 values of ``shape`` from one image's generator, as numpy."""
    return torch.empty(shape, dtype=torch.float64).uniform_(low, high, generator=generator).numpy()


def draw_normal(generator: torch.Generator, shape: tuple[int, ...], mean: float, std: float) -> np.ndarray:
    """N(mean, std) float64 values of ``shape`` from one image's generator, as numpy."""
    return torch.empty(shape, dtype=torch.float64).normal_(mean, std, generator=generator).numpy()


def uniform_scalars(generators: Generators, low: float, high: float) -> list[float]:
    """One U[low, high) value per image (an angle, say), each from its image's generator."""
    return [draw_uniform(generator, (), low, high).item() for generator in generators]
