"""GradCAM element-wise (pytorch-grad-cam's GradCAMElementWise): the positive part of
gradients times activations, summed over channels."""

from __future__ import annotations

from torch import Tensor


def gradcam_elementwise(a: Tensor, g: Tensor) -> Tensor:
    """GradCAMElementWise: sum_c relu(g_c * A_c)."""
    return (g * a).relu().sum(1)
