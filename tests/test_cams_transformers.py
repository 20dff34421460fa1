"""CAMs on token layers: torchvision ViT and Swin through token_reshape.

vit_b_16 and swin_t run the gradient family (one forward + one backward) with parity against
pytorch-grad-cam given the same reshape. ScoreCAM / AblationCAM need one forward per channel (768
here: about 40 s per method and image on one CPU core), so they run on narrow configurations of
the same torchvision classes, which take the same code paths (token_reshape, channels-last ablation).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn
from torchvision.models import SwinTransformer, VisionTransformer, swin_t, vit_b_16

from camrobust.cams import CAM_METHODS, GRADIENT_METHODS, compute_cams, postprocess, token_reshape
from tests.gradcam_oracle import PYTORCH_GRAD_CAM

# Eigen methods are compared up to their sign rule in test_cams_parity.py; here the six weighted ones.
WEIGHTED = ("gradcam", "gradcampp", "xgradcam", "hirescam", "gradcam_elementwise", "layercam")
THEIRS = {name: PYTORCH_GRAD_CAM[name] for name in WEIGHTED}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def with_random_head(model: VisionTransformer) -> VisionTransformer:
    nn.init.normal_(model.heads.head.weight, std=0.05)  # torchvision zero-initialises it: logits all 0
    return model.eval()


def vit_b16_64px() -> tuple[nn.Module, str, int]:
    torch.manual_seed(0)
    return with_random_head(vit_b_16(weights=None, image_size=64)), "encoder.layers.encoder_layer_11.ln_1", 64


def swin_t_64px() -> tuple[nn.Module, str, int]:
    torch.manual_seed(0)
    return swin_t(weights=None).eval(), "norm", 64


def narrow_vit() -> tuple[nn.Module, str, int]:
    torch.manual_seed(0)
    vit = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64)
    return with_random_head(vit), "encoder.layers.encoder_layer_1.ln_1", 32


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
    return swin.eval(), "norm", 32


Builder = Callable[[], tuple[nn.Module, str, int]]


def maps_and_parity(
    build: Builder, methods: list[str], grid: tuple[int, int], theirs: dict[str, type]
) -> None:
    model, layer, size = build()
    inputs = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    reshape = token_reshape(model, size)
    cap_shape = reshape(_layer_output(model, layer, inputs)).shape
    assert cap_shape[-2:] == grid
    ours = compute_cams(model, layer, inputs, methods, batch_size=64, reshape=reshape)
    for name in methods:
        cam = ours[name]
        assert cam.shape == (2, size, size) and cam.isfinite().all(), name
        assert cam.min() >= 0 and cam.max() <= 1 and cam.amax((1, 2)).gt(0.99).all(), name
    with torch.no_grad():
        targets = [ClassifierOutputTarget(int(t)) for t in model(inputs).argmax(1)]
    for name, cls in theirs.items():
        with cls(model, [model.get_submodule(layer)], reshape_transform=reshape) as cam:
            np.testing.assert_allclose(ours[name].numpy(), cam(inputs, targets), atol=1e-3, err_msg=name)


def _layer_output(model: nn.Module, layer: str, inputs: torch.Tensor) -> torch.Tensor:
    out: list[torch.Tensor] = []
    handle = model.get_submodule(layer).register_forward_hook(lambda _m, _a, o: out.append(o))
    with torch.no_grad():
        model(inputs)
    handle.remove()
    return out[0]


def test_vit_b_16_gradient_family() -> None:
    # 64 px / patch 16 -> a 4x4 grid read from the model, not 14x14
    maps_and_parity(vit_b16_64px, list(GRADIENT_METHODS), (4, 4), THEIRS)


def test_swin_t_gradient_family() -> None:
    # swin_t: patch 4 and three 2x merges -> 64 px gives a 2x2 grid at "norm" (N, h, w, C)
    maps_and_parity(swin_t_64px, list(GRADIENT_METHODS), (2, 2), THEIRS)


def test_narrow_vit_all_methods() -> None:
    maps_and_parity(narrow_vit, list(CAM_METHODS), (4, 4), {**THEIRS, "scorecam": PYTORCH_GRAD_CAM["scorecam"]})


def test_narrow_swin_all_methods() -> None:
    maps_and_parity(narrow_swin, list(CAM_METHODS), (2, 2), {name: PYTORCH_GRAD_CAM[name] for name in ("gradcam", "scorecam")})


@pytest.mark.parametrize("build", [narrow_vit, narrow_swin])
def test_ablation_on_token_layers_matches_a_direct_loop(build: Builder) -> None:
    # reference: ablate channel c (last axis of the raw token output, class token included, as
    # pytorch-grad-cam's AblationLayerVit) with min - 1e7 (LayerNorm outputs are not >= 0), one pass each
    model, layer, size = build()
    inputs = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(2))
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
    maps = token_reshape(model, size)(tokens)[0]
    expected = postprocess((weights[:, None, None] * maps).sum(0, keepdim=True), (size, size))
    ours = compute_cams(
        model, layer, inputs, ["ablationcam"], batch_size=5, reshape=token_reshape(model, size)
    )
    torch.testing.assert_close(ours["ablationcam"], expected, atol=1e-4, rtol=0)
