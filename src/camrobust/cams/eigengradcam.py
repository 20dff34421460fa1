"""EigenGradCAM (pytorch-grad-cam): the first principal component of gradients times activations."""

from __future__ import annotations

from torch import Tensor

from camrobust.cams.eigencam import first_component


def eigengradcam(a: Tensor, g: Tensor) -> Tensor:
    """EigenGradCAM: first_component(g * A), sign rule of ``first_component``."""
    return first_component(g * a)
