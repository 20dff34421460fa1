"""Parity with pytorch-grad-cam 1.5.x at the default target layer of every supported architecture:
the eight gradient-family methods on one random image, in float64, so that pytorch-grad-cam's own
float32 post-processing is the only rounding that matters (gradcam_oracle.POSTPROCESS_TOL)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
import torch

from camrobust.cams import (
    GRADIENT_METHODS,
    Capture,
    capture,
    compute_cams,
    gradient_family,
    resolve_target,
    token_reshape,
)
from camrobust.models import DEFAULT_TARGET_LAYERS
from camrobust.registry import TORCHVISION_ARCHS
from tests.gradcam_oracle import POSTPROCESS_TOL, eigen_tolerance, gradient_maps
from tests.zoo import zoo_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# 64 x 96 px: 2 x 3 maps at stride 32 (a transposed map would show), 48 x 48 for ViT (a square
# input, 3 x 3 patches of 16).
SIZES = {arch: (64, 96) for arch in TORCHVISION_ARCHS} | {"vit_b_16": (48, 48)}


@lru_cache(maxsize=1)  # one model at a time: vgg16 in float64 alone takes 1.1 GB
def zoo_case(arch: str) -> tuple[torch.nn.Module, torch.Tensor, Capture, dict[str, np.ndarray]]:
    """Frozen float64 model (no parameter gradients: cheaper backward), input, our capture at
    the default target and pytorch-grad-cam's maps there."""
    h, w = SIZES[arch]
    model = zoo_model(arch, h).double().requires_grad_(False)
    inputs = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    target, reshape = resolve_target(model, DEFAULT_TARGET_LAYERS[arch]), token_reshape(model, (h, w))
    theirs = gradient_maps(model, target.module, inputs, list(GRADIENT_METHODS), reshape)
    return model, inputs, capture(model, target, inputs, reshape=reshape), theirs


@pytest.mark.parametrize("arch", TORCHVISION_ARCHS)
def test_default_target_layer_parity(arch: str) -> None:
    _, _, cap, theirs = zoo_case(arch)
    ours = gradient_family(cap.activations, cap.gradients, list(GRADIENT_METHODS), SIZES[arch])
    for name in GRADIENT_METHODS:
        cam = ours[name].numpy()
        assert cam.shape == theirs[name].shape == (1, *SIZES[arch]), name
        assert cam.max() > 0.99, name  # not flat: a flat map would agree trivially
        diff = np.abs(cam - theirs[name]).max((1, 2))
        tol: float | np.ndarray = POSTPROCESS_TOL
        if name in ("eigencam", "eigengradcam"):  # up to the SVD sign (ours: cams.first_component)
            diff = np.minimum(diff, np.abs(cam - theirs[f"{name}_flipped"]).max((1, 2)))
            features = cap.activations if name == "eigencam" else cap.gradients * cap.activations
            tol = eigen_tolerance(features)
        assert (diff <= tol).all(), (name, diff, tol)


def test_densenet_target_is_the_activated_features() -> None:
    """relu(features.norm5): A = relu(norm5 output), g = dy/d(norm5 output), the logits those of the
    unmodified model, on any device (no reliance on the in-place ReLU writing into a stored tensor).
    The pre-ReLU capture misses pytorch-grad-cam: its CPU hook stores the very tensor the model's
    in-place ReLU then overwrites, so its activations are activated, its gradient is the one at norm5."""
    model, inputs, cap, theirs = zoo_case("densenet121")
    pre = capture(model, "features.norm5", inputs)
    assert pre.activations.min() < 0  # BatchNorm output: the ReLU matters
    assert torch.equal(cap.activations, pre.activations.relu())
    assert torch.equal(cap.gradients, pre.gradients)
    with torch.no_grad():
        assert torch.equal(cap.logits, model(inputs))
    old = compute_cams(model, "features.norm5", inputs, ["gradcam", "xgradcam", "eigencam"])
    for name, cam in old.items():
        assert np.abs(cam.numpy() - theirs[name]).max() > 0.05, name  # 1e5 x POSTPROCESS_TOL
