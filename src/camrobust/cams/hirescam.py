"""HiResCAM (Draelos and Carin, 2020): gradients times activations, summed over channels."""

from __future__ import annotations

from torch import Tensor


def hirescam(a: Tensor, g: Tensor) -> Tensor:
    """HiResCAM: sum_c g_c * A_c (element-wise product, no spatial averaging)."""
    return (g * a).sum(1)
