"""Choosing the torch device a job runs on."""

from __future__ import annotations

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """Return the device for ``name``: ``auto`` picks CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {name!r} requested but CUDA is not available; use 'auto' or 'cpu'")
    return device
