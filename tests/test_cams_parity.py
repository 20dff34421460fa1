"""Parity of camrobust.cams with pytorch-grad-cam 1.5.x on torchvision resnet18 and vgg11, all ten
methods, in float64: what rounding is left is pytorch-grad-cam's own float32 steps, bounded per
method below (gradcam_oracle.POSTPROCESS_TOL for the post-processing every method shares)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import pytest
import torch
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn
from torchvision.models import resnet18, vgg11

from camrobust.cams import EXPLAINING_METHODS, compute_cams
from tests.gradcam_oracle import (
    POSTPROCESS_TOL,
    PYTORCH_GRAD_CAM,
    ablation_tolerance,
    default_float64,
    eigen_tolerance,
    flipped_projection,
    predicted_targets,
)
from tests.rounding import U32

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def vgg11_frozen_classifier() -> nn.Module:
    """vgg11 whose 100M classifier weights need no gradient (maps unchanged, backward 5x faster)."""
    model = vgg11()
    model.classifier.requires_grad_(False)
    return model


# (builder, target layer, images, input px): 36 px gives resnet18 layer2 5x5 maps (upsampling by
# a non-integer 7.2) and vgg11 features.2 (the first max-pool, 64 channels) 18x18 maps; vgg11 uses
# one image and few channels because its classifier makes each of the C ScoreCAM / AblationCAM
# forwards slow on a CPU.
CASES: dict[str, tuple[Callable[[], nn.Module], str, int, int]] = {
    "resnet18": (resnet18, "layer2", 2, 36),
    "vgg11": (vgg11_frozen_classifier, "features.2", 1, 36),
}


@cache
def setup(
    arch: str,
) -> tuple[nn.Module, nn.Module, torch.Tensor, list[ClassifierOutputTarget], dict[str, np.ndarray]]:
    """Seeded float64 model, its target layer, inputs, pytorch-grad-cam targets (predicted
    class), our maps."""
    build, layer, n, size = CASES[arch]
    torch.manual_seed(0)
    model = build().eval().double()
    inputs = torch.randn(n, 3, size, size, dtype=torch.float64)
    ours = {k: v.numpy() for k, v in compute_cams(model, layer, inputs, EXPLAINING_METHODS).items()}
    return model, model.get_submodule(layer), inputs, predicted_targets(model, inputs), ours


def record_weights(cam: BaseCAM) -> list[np.ndarray]:
    """The channel weights ``cam`` computes on its next call (it then uses them unchanged)."""
    recorded: list[np.ndarray] = []
    compute = cam.get_cam_weights

    def get_cam_weights(*args: object) -> np.ndarray:
        recorded.append(compute(*args))
        return recorded[-1]

    cam.get_cam_weights = get_cam_weights  # type: ignore[method-assign]
    return recorded


@pytest.mark.parametrize("method", EXPLAINING_METHODS)
@pytest.mark.parametrize("arch", CASES)
def test_parity_with_pytorch_grad_cam(arch: str, method: str) -> None:
    model, layer, inputs, targets, ours = setup(arch)
    with PYTORCH_GRAD_CAM[method](model, [layer]) as cam, default_float64():
        weights = record_weights(cam)
        theirs = cam(inputs, targets)
        acts = cam.activations_and_grads.activations[0].numpy()
        grads = cam.activations_and_grads.gradients[0].numpy() if method == "eigengradcam" else 1.0
        flipped = flipped_projection(cam, grads * acts, inputs.shape[-2:]) if "eigen" in method else None
    assert ours[method].shape == theirs.shape == (len(inputs), *inputs.shape[-2:])
    assert (ours[method].max((1, 2)) > 0.99).all()  # not flat: a flat map would agree trivially
    diff = np.abs(ours[method] - theirs).max((1, 2))
    # ScoreCAM too: float64 throughout (default_float64); its forwards batch channels unlike ours,
    # which moves scores by float64 rounding only (~1e-16 relative)
    tol: float | np.ndarray = POSTPROCESS_TOL
    if flipped is not None:  # equal up to the SVD sign (ours: cams.first_component's rule)
        diff = np.minimum(diff, np.abs(ours[method] - flipped).max((1, 2)))
        tol = eigen_tolerance(torch.from_numpy(grads * acts))
    if method == "ablationcam":
        tol = ablation_tolerance(weights[0], acts, 2 * U32)  # its float32 scores and weights
    assert (diff <= tol).all(), (diff, tol)
