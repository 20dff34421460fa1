"""CAMs on token layers: torchvision ViT and Swin through token_reshape, in float64.

vit_b_16 and swin_t at their default target layers are checked against pytorch-grad-cam in
test_cams_zoo_parity.py. ScoreCAM / AblationCAM need one forward per channel (768 there: about
40 s per method and image on one CPU core), so they run here on narrow configurations of the same
torchvision classes, which take the same code paths (token_reshape, channels-last ablation).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import SwinTransformer, VisionTransformer

from camrobust.cams import EXPLAINING_METHODS, GRADIENT_METHODS, capture, compute_cams, postprocess, token_reshape
from tests.gradcam_oracle import (
    POSTPROCESS_TOL,
    PYTORCH_GRAD_CAM,
    ablation_tolerance,
    default_float64,
    eigen_tolerance,
    gradient_maps,
    predicted_targets,
)
from tests.rounding import FORWARD_ERROR

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def narrow_vit() -> tuple[nn.Module, str, int]:
    torch.manual_seed(0)
    vit = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64)
    nn.init.normal_(vit.heads.head.weight, std=0.05)  # torchvision zero-initialises it: logits all 0
    return vit.eval().double(), "encoder.layers.encoder_layer_1.ln_1", 32


def narrow_swin() -> tuple[nn.Module, str, int]:
    torch.manual_seed(0)
    swin = SwinTransformer(
        patch_size=[4, 4],
        embed_dim=16,
        depths=[1, 1, 1],
        num_heads=[1, 2, 4],
        window_size=[2, 2],
        num_classes=10,
    )
    return swin.eval().double(), "norm", 32


Builder = Callable[[], tuple[nn.Module, str, int]]


@pytest.mark.parametrize(("build", "grid"), [(narrow_vit, (4, 4)), (narrow_swin, (2, 2))])
def test_all_methods_on_narrow_token_models(build: Builder, grid: tuple[int, int]) -> None:
    """All ten methods run; the gradient family and ScoreCAM match pytorch-grad-cam given the same
    reshape (AblationCAM: against a direct loop below)."""
    model, layer, size = build()
    inputs = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    reshape = token_reshape(model, size)
    cap = capture(model, layer, inputs, reshape=reshape)
    assert cap.activations.shape[-2:] == grid
    maps = compute_cams(model, layer, inputs, EXPLAINING_METHODS, batch_size=64, reshape=reshape)
    ours = {name: cam.numpy() for name, cam in maps.items()}
    for name, cam in ours.items():
        assert cam.shape == (2, size, size) and np.isfinite(cam).all(), name
        assert cam.min() >= 0 and cam.max() <= 1 and (cam.max((1, 2)) > 0.99).all(), name
    theirs = gradient_maps(model, model.get_submodule(layer), inputs, list(GRADIENT_METHODS), reshape)
    with PYTORCH_GRAD_CAM["scorecam"](model, [model.get_submodule(layer)], reshape) as cam, default_float64():
        theirs["scorecam"] = cam(inputs, predicted_targets(model, inputs))
    for name in [*GRADIENT_METHODS, "scorecam"]:
        diff = np.abs(ours[name] - theirs[name]).max((1, 2))
        tol: float | np.ndarray = POSTPROCESS_TOL  # float64 but for pytorch-grad-cam's post-processing
        if name in ("eigencam", "eigengradcam"):  # up to the SVD sign
            diff = np.minimum(diff, np.abs(ours[name] - theirs[f"{name}_flipped"]).max((1, 2)))
            tol = eigen_tolerance(cap.activations if name == "eigencam" else cap.gradients * cap.activations)
        assert (diff <= tol).all(), (name, diff, tol)


def _layer_output(model: nn.Module, layer: str, inputs: torch.Tensor) -> torch.Tensor:
    out: list[torch.Tensor] = []
    handle = model.get_submodule(layer).register_forward_hook(lambda _m, _a, o: out.append(o))
    with torch.no_grad():
        model(inputs)
    handle.remove()
    return out[0]


@pytest.mark.parametrize("build", [narrow_vit, narrow_swin])
def test_ablation_on_token_layers_matches_a_direct_loop(build: Builder) -> None:
    # reference: ablate channel c (last axis of the raw token output, class token included, as
    # pytorch-grad-cam's AblationLayerVit) with min - 1e7 (LayerNorm outputs are not >= 0), one pass each
    model, layer, size = build()
    inputs = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    tokens = _layer_output(model, layer, inputs)
    value = float(tokens.min()) - 1e7
    with torch.no_grad():
        logits = model(inputs)[0]
        target = int(logits.argmax())
        ablated = []
        for c in range(tokens.shape[-1]):
            handle = model.get_submodule(layer).register_forward_hook(
                lambda _m, _a, out, c=c: out.index_fill(-1, torch.tensor([c]), value)
            )
            ablated.append(model(inputs)[0, target])
            handle.remove()
    weights = (logits[target] - torch.stack(ablated)) / logits[target]
    reshape = token_reshape(model, size)
    assert reshape is not None
    maps = reshape(tokens)
    expected = postprocess((weights[:, None, None] * maps[0]).sum(0, keepdim=True), (size, size))
    ours = compute_cams(model, layer, inputs, ["ablationcam"], batch_size=5, reshape=reshape)
    # both sides in float64: the maps differ by the scores' forward rounding (batches of 5 channels
    # against single passes); ablation_tolerance's POSTPROCESS_TOL term covers far more than the
    # float64 post-processing here needs
    tol = ablation_tolerance(weights[None].numpy(), maps.numpy(), 2 * FORWARD_ERROR)
    assert (ours["ablationcam"] - expected).abs().max().item() <= tol[0]
