"""LayerCAM (Jiang et al., 2021): activations weighted pixel by pixel by their positive gradients."""

from __future__ import annotations

from torch import Tensor


def layercam(a: Tensor, g: Tensor) -> Tensor:
    """LayerCAM: sum_c relu(g_c) * A_c."""
    return (g.relu() * a).sum(1)
