"""XGradCAM (Fu et al., 2020): channels weighted by their activation-weighted gradient."""

from __future__ import annotations

from torch import Tensor


def xgradcam(a: Tensor, g: Tensor) -> Tensor:
    """XGradCAM: sum_c w_c A_c, w_c = sum_hw(g_c A_c) / (sum_hw(A_c) + 1e-7)."""
    return ((g * a).sum((2, 3), keepdim=True) / (a.sum((2, 3), keepdim=True) + 1e-7) * a).sum(1)
