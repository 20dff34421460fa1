"""Parity of camrobust.cams with pytorch-grad-cam 1.5.x on torchvision resnet18 and vgg11."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import pytest
import torch
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection
from torch import nn
from torchvision.models import resnet18, vgg11

from camrobust.cams import CAM_METHODS, compute_cams
from tests.gradcam_oracle import PYTORCH_GRAD_CAM

THEIRS = PYTORCH_GRAD_CAM

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def vgg11_frozen_classifier() -> nn.Module:
    """vgg11 whose 100M classifier weights need no gradient (maps unchanged, backward 5x faster)."""
    model = vgg11()
    model.classifier.requires_grad_(False)
    return model


# (builder, target layer, images, input px): 36 px gives resnet18 layer2 5x5 maps (upsampling by
# a non-integer 7.2) and vgg11 features.5 9x9 maps; vgg11 uses one image because its classifier
# makes each of the C ScoreCAM / AblationCAM forwards slow on a CPU.
CASES: dict[str, tuple[Callable[[], nn.Module], str, int, int]] = {
    "resnet18": (resnet18, "layer2", 2, 36),
    "vgg11": (vgg11_frozen_classifier, "features.5", 1, 36),
}


@cache
def setup(
    arch: str,
) -> tuple[nn.Module, nn.Module, torch.Tensor, list[ClassifierOutputTarget], dict[str, np.ndarray]]:
    """Seeded model, its target layer, inputs, pytorch-grad-cam targets (predicted class), our maps."""
    build, layer, n, size = CASES[arch]
    torch.manual_seed(0)
    model = build().eval()
    inputs = torch.randn(n, 3, size, size)
    with torch.no_grad():
        targets = [ClassifierOutputTarget(int(t)) for t in model(inputs).argmax(1)]
    ours = {k: v.numpy() for k, v in compute_cams(model, layer, inputs, CAM_METHODS).items()}
    return model, model.get_submodule(layer), inputs, targets, ours


def flipped_projection_map(activations: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """pytorch-grad-cam's own pipeline (BaseCAM: relu, scale + resize, scale) on -projection."""
    return scale_cam_image(scale_cam_image(np.maximum(-get_2d_projection(activations), 0), size))


@pytest.mark.parametrize("method", CAM_METHODS)
@pytest.mark.parametrize("arch", CASES)
def test_parity_with_pytorch_grad_cam(arch: str, method: str) -> None:
    model, layer, inputs, targets, ours = setup(arch)
    with THEIRS[method](model, [layer]) as cam:
        theirs = cam(inputs, targets)
        acts = cam.activations_and_grads.activations[0].numpy()
        grads = cam.activations_and_grads.gradients[0].numpy() if method == "eigengradcam" else 1.0
    assert ours[method].shape == theirs.shape == (len(inputs), *inputs.shape[-2:])
    diff = np.abs(ours[method] - theirs).max((1, 2))
    if method in ("eigencam", "eigengradcam"):  # equal up to the documented SVD sign rule
        flipped = flipped_projection_map(grads * acts, inputs.shape[-2:][::-1])
        diff = np.minimum(diff, np.abs(ours[method] - flipped).max((1, 2)))
    assert diff.max() <= 1e-3
