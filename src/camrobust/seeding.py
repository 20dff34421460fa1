"""Stable, order-independent random generators keyed by what they are for.

A generator derived from (namespace, noise, severity, image id, seed) is the same whatever
the batch size, the device or how the work is split into jobs.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def derive_seed(*fields: object) -> int:
    """64-bit seed from the fields' text, stable across processes and platforms (blake2b)."""
    text = "\x1f".join(str(field) for field in fields).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def image_generator(*fields: object) -> np.random.Generator:
    """NumPy generator (PCG64) for one image's randomness."""
    return np.random.Generator(np.random.PCG64(derive_seed(*fields)))


def torch_generator(*fields: object, device: torch.device | str = "cpu") -> torch.Generator:
    """Torch generator for one image's randomness, seeded like :func:`image_generator`."""
    import torch

    generator = torch.Generator(device=device)
    generator.manual_seed(derive_seed(*fields) & 0x7FFF_FFFF_FFFF_FFFF)
    return generator
