"""GradCAM++ (Chattopadhay et al., 2018): channels weighted by positive gradients with
per-pixel second- and third-order weights."""

from __future__ import annotations

import torch
from torch import Tensor


def gradcampp(a: Tensor, g: Tensor) -> Tensor:
    """GradCAM++: sum_c w_c A_c, w_c = sum_hw relu(g_c) alpha_c,
    alpha_c = g_c^2 / (2 g_c^2 + sum_hw(A_c) g_c^3 + 1e-6), alpha_c = 0 where g_c = 0."""
    g2 = g.square()
    alpha = torch.where(g != 0, g2 / (2 * g2 + a.sum((2, 3), keepdim=True) * g2 * g + 1e-6), 0.0)
    return ((g.relu() * alpha).sum((2, 3), keepdim=True) * a).sum(1)
