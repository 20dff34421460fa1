"""GradCAM (Selvaraju et al., 2017): channels weighted by their mean gradient."""

from __future__ import annotations

from torch import Tensor


def gradcam(a: Tensor, g: Tensor) -> Tensor:
    """GradCAM: sum_c w_c A_c with w_c = mean_hw(g_c)."""
    return (g.mean((2, 3), keepdim=True) * a).sum(1)
