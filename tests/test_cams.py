"""CAM engine on nets small enough to compute by hand, plus the API contracts of camrobust.cams."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn
from torchvision.models import SwinTransformer, VisionTransformer, resnet18

from camrobust.cams import (
    CAM_METHODS,
    GRADIENT_METHODS,
    MODEL_METHODS,
    Probe,
    capture,
    compute_cams,
    gradient_family,
    model_cams,
    token_reshape,
)
from tests.rounding import FORWARD_ERROR

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# Hand net: conv 2x2 stride 2 whose weights average input channel c over each 2x2 block into
# activation channel c (c = 0, 1; input channel 2 unused), then flatten (c, i, j) and a linear
# layer without bias, so the gradient of logit k w.r.t. A is the weight row k read as (2, 2, 2).
A0 = [[4.0, 0.0], [0.0, 2.0]]
A1 = [[-2.0, 1.0], [3.0, 2.0]]  # image 0 (has a negative: layer min -2)
A1_POS = [[0.0, 1.0], [3.0, 2.0]]  # image 1 (non-negative: layer min 0)
G0 = [[1.0, 0.0], [0.0, -1.0]]  # class 0 weights on channel 0
G1 = [[0.5, 0.5], [1.0, 0.5]]  # class 0 weights on channel 1; class 1 weighs every cell 0.1
# Logits: image 0: y0 = (4 - 2) + (-1 + .5 + 3 + 1) = 5.5, y1 = .1 * (6 + 4) = 1.0 -> class 0;
#         image 1: y0 = 2 + (.5 + 3 + 1) = 6.5,       y1 = .1 * (6 + 6) = 1.2 -> class 0.


def hand_net() -> nn.Module:
    conv = nn.Conv2d(3, 2, 2, stride=2, bias=False)
    linear = nn.Linear(8, 2, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0] = conv.weight[1, 1] = 0.25
        linear.weight.copy_(torch.stack([torch.tensor([G0, G1]).flatten(), torch.full((8,), 0.1)]))
    return nn.Sequential(conv, nn.Flatten(), linear).eval()


def hand_inputs() -> Tensor:
    x = torch.zeros(2, 3, 4, 4)
    for n, a1 in enumerate((A1, A1_POS)):
        for c, a in enumerate((A0, a1)):
            x[n, c] = torch.tensor(a).repeat_interleave(2, 0).repeat_interleave(2, 1)
    return x


def upsampled(m: list[list[float]]) -> Tensor:
    """Bilinear 2x2 -> 4x4, half-pixel centres: output pixel i samples source (i + .5) / 2 - .5 =
    -.25, .25, .75, 1.25, clamped to [0, 1] -> rows [v0, .75 v0 + .25 v1, .25 v0 + .75 v1, v1].
    The 4x4 keeps the 2x2 values at its corners, so the final min-max leaves it as is."""
    u = torch.tensor([[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]])
    return u @ torch.tensor(m) @ u.T


# Hand maps of image 0 for its predicted class 0, g = (G0, G1); g*A: ch0 [[4,0],[0,-2]],
# ch1 [[-1,.5],[3,1]]. Every map: ReLU, then (x - min) / (max - min).
IMAGE0_MAPS = {
    # w = mean g = (0, .625): .625 A1 = [[-1.25,.625],[1.875,1.25]] -> relu, / 1.875
    "gradcam": [[0.0, 1 / 3], [1.0, 2 / 3]],
    # ch0: alpha = 1 / (2 + 6 * 1) = 1/8 where g = 1 (g = -1 has relu(g) = 0) -> w0 = 1/8;
    # ch1 (sum A1 = 4): g = .5: alpha = .25 / (.5 + 4 * .125) = 1/4, three cells -> 3 * .5 / 4 = .375;
    # g = 1: alpha = 1 / (2 + 4) = 1/6 -> w1 = .375 + 1/6 = 13/24;
    # A0/8 + 13/24 A1 = [[-7/12, 13/24], [39/24, 32/24]] -> relu, / (39/24)
    "gradcampp": [[0.0, 1 / 3], [1.0, 32 / 39]],
    # w = sum(gA) / sum(A) = (2/6, 3.5/4): A0/3 + .875 A1 = [[-5/12, .875], [2.625, 29/12]] -> / 2.625
    "xgradcam": [[0.0, 1 / 3], [1.0, 29 / 12 / 2.625]],
    # sum_c gA = [[3, .5], [3, -1]] -> relu, / 3
    "hirescam": [[1.0, 1 / 6], [1.0, 0.0]],
    # sum_c relu(gA) = [[4, .5], [3, 1]] -> (x - .5) / 3.5
    "gradcam_elementwise": [[1.0, 0.0], [5 / 7, 1 / 7]],
    # relu(g) A: ch0 [[4,0],[0,0]], ch1 [[-1,.5],[3,1]] -> [[3,.5],[3,1]] -> (x - .5) / 2.5
    "layercam": [[1.0, 0.0], [1.0, 0.2]],
    # rows (cells 00,01,10,11) of A as 4 x 2: (4,-2),(0,1),(0,3),(2,2); centred: (2.5,-3),(-1.5,0),
    # (-1.5,2),(.5,1); X^T X = [[11,-10],[-10,14]], l1 = (25 + sqrt(409)) / 2 = 22.6119,
    # v1 ~ (10, 11 - l1) = (10, -11.6119): sum < 0 -> flip -> v1 ~ (-10, 11.6119);
    # X v1 ~ (-59.834, 15, 38.224, 6.612) -> relu, / 38.224 = (0, .39243, 1, .17298)
    "eigencam": [[0.0, 0.392426], [1.0, 0.172978]],
    # rows of gA: (4,-1),(0,.5),(0,3),(-2,1); centred (3.5,-1.875),(-.5,-.375),(-.5,2.125),(-2.5,.125);
    # X^T X = [[19,-7.75],[-7.75,8.1875]], l1 = 23.043, v1 ~ (7.75, 19 - l1) = (7.75, -4.043): sum > 0;
    # X v1 ~ (34.71, -2.36, -12.47, -19.88) -> relu -> only cell 00 positive
    "eigengradcam": [[1.0, 0.0], [0.0, 0.0]],
    # image 0's layer min is -2, so the ablated value is -2 - 1e7 =: v. Ablating ch0 leaves
    # y = v * sum(G0) + 3.5 = 3.5 -> w0 = (5.5 - 3.5) / 5.5 = .36; ablating ch1 gives
    # y = 2 + 2.5 v ~ -2.5e7 -> w1 ~ 4.5e6: the map is A1 up to 1e-7 -> as gradcam
    "ablationcam": [[0.0, 1 / 3], [1.0, 2 / 3]],
}


# The hand maps are exact rationals. The engine's float32 evaluation and the test's own (the
# expected values, upsampled) round values of map scale (<= 1) at most 16 times between them, each
# by <= 2^-24; ScoreCAM's scores (|s| <= 4) reach its softmax weights with a relative error <= 2 * 4
# * 2^-24, AblationCAM's ratios likewise: 16 more. The 1e-7 of the two min-max moves a map by <= 1e-7
# / range each (raw ranges >= 1 here), and AblationCAM image 0 drops a 1e-7 term (IMAGE0_MAPS).
HAND_TOL = 32 * 2.0**-24 + 3e-7


@pytest.mark.parametrize("method", sorted(IMAGE0_MAPS))
def test_hand_computed_maps_image0(method: str) -> None:
    cams = compute_cams(hand_net(), "0", hand_inputs(), [method])
    torch.testing.assert_close(cams[method][0], upsampled(IMAGE0_MAPS[method]), atol=HAND_TOL, rtol=0)


def test_ablationcam_zero_ablation_by_hand() -> None:
    # Image 1: layer min 0 -> ablated value 0. y = 6.5; without ch0 y = 4.5 -> w0 = 2/6.5 = 4/13;
    # without ch1 y = 2 -> w1 = 9/13. 13 * map = 4 A0 + 9 A1_POS = [[16, 9], [27, 26]] -> (x - 9) / 18.
    cams = compute_cams(hand_net(), "0", hand_inputs(), ["ablationcam"])
    torch.testing.assert_close(
        cams["ablationcam"][1], upsampled([[7 / 18, 0.0], [1.0, 17 / 18]]), atol=HAND_TOL, rtol=0
    )


def test_scorecam_by_hand() -> None:
    # Image 1. Mask M_c = min-max of A_c upsampled with align_corners=True (2 -> 4: rows
    # [v0, 2/3 v0 + 1/3 v1, 1/3 v0 + 2/3 v1, v1]); the conv then averages 2x2 blocks of x * M_c,
    # i.e. A_d * P_c with P_c = (B A_c B^T - min A_c) / (max A_c - min A_c), B = [[5/6,1/6],[1/6,5/6]].
    # P_0 = [[51, 15], [15, 27]] / 72 -> score s0 = (4*51 - 2*27)/72 + (.5*15 + 3*15 + .5*2*27)/72 = 229.5/72
    # P_1 = [[22, 38], [86, 70]] / 108 -> s1 = (4*22 - 2*70)/108 + (.5*38 + 3*86 + .5*2*70)/108 = 295/108
    w = torch.softmax(torch.tensor([229.5 / 72, 295 / 108]), 0)
    raw = w[0] * torch.tensor(A0) + w[1] * torch.tensor(A1_POS)
    expected = (raw - raw.min()) / (raw.max() - raw.min())
    cams = compute_cams(hand_net(), "0", hand_inputs(), ["scorecam"])
    torch.testing.assert_close(cams["scorecam"][1], upsampled(expected.tolist()), atol=HAND_TOL, rtol=0)


def test_explicit_targets_by_hand() -> None:
    # Image 0 for class 1: g = .1 everywhere -> gradcam .1 (A0 + A1) = [[.2,.1],[.3,.4]] -> (x - .1) / .3
    cams = compute_cams(hand_net(), "0", hand_inputs(), ["gradcam"], targets=torch.tensor([1, 0]))
    torch.testing.assert_close(cams["gradcam"][0], upsampled([[1 / 3, 0.0], [2 / 3, 1.0]]), atol=HAND_TOL, rtol=0)


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 6, 3, stride=2, padding=1),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 4),
    ).eval()


def small_inputs(n: int = 5) -> Tensor:
    return torch.randn(n, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def as_images01(x: Tensor) -> Tensor:
    """Inputs rescaled to [0, 1], the images the baseline maps take."""
    return (x - x.min()) / (x.max() - x.min())


IDS = [f"image-{i}" for i in range(5)]


def test_maps_shape_range_dtype_and_no_hooks_left() -> None:
    model, x = small_cnn(), small_inputs()
    cams = compute_cams(model, "2", x, CAM_METHODS, batch_size=2, images01=as_images01(x), ids=IDS)
    assert not any(module._forward_hooks for module in model.modules())
    assert list(cams) == list(CAM_METHODS)
    for cam in cams.values():
        assert cam.shape == (5, 16, 16) and cam.dtype == torch.float32
        assert cam.min() >= 0 and cam.max() <= 1 and cam.amax((1, 2)).gt(0.999).all()


def test_targets_none_uses_argmax() -> None:
    model, x = small_cnn(), small_inputs()
    predicted = model(x).argmax(1)
    assert torch.equal(capture(model, "2", x).targets, predicted)
    images = {"images01": as_images01(x), "ids": IDS}
    ours = compute_cams(model, "2", x, CAM_METHODS, batch_size=4, **images)
    explicit = compute_cams(model, "2", x, CAM_METHODS, targets=predicted, batch_size=4, **images)
    other = compute_cams(model, "2", x, ["gradcam"], targets=(predicted + 1) % 4, batch_size=4)
    for name in CAM_METHODS:  # the same targets: the same operations on the same values
        assert torch.equal(ours[name], explicit[name]), name
    assert (ours["gradcam"] - other["gradcam"]).abs().max() > 0.1  # another class: another map


def test_gradient_family_from_capture_equals_compute_cams() -> None:
    model, x = small_cnn(), small_inputs()
    cap = capture(model, model[2], x)
    assert cap.activations.shape == cap.gradients.shape == (5, 6, 8, 8) and cap.logits.shape == (5, 4)
    family = gradient_family(cap.activations, cap.gradients, list(GRADIENT_METHODS), (16, 16))
    whole = compute_cams(model, "2", x, list(GRADIENT_METHODS), batch_size=5)  # the same one capture
    for name in GRADIENT_METHODS:
        assert torch.equal(family[name], whole[name]), name
    frozen = capture(small_cnn().requires_grad_(False), "2", x)  # backward stops at the layer anyway
    assert torch.equal(frozen.gradients, cap.gradients)


def test_capture_gradient_is_autograd_gradient() -> None:
    # gradient of the summed target logits w.r.t. the layer output = each image's own gradient,
    # exactly: through ReLU, a 64-cell mean and the linear layer it is 1[A > 0] * W[t, c] / 64, one
    # weight times a power of two, whatever the batch
    model, x = small_cnn(), small_inputs(2)
    cap = capture(model, "2", x, targets=torch.tensor([3, 1]))
    head = model[3:]
    for n, t in enumerate((3, 1)):
        a = cap.activations[n : n + 1].clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(head(a.clone())[0, t], a)  # clone: head starts with ReLU(inplace)
        assert torch.equal(cap.gradients[n : n + 1], grad)


@pytest.mark.parametrize("method", sorted(MODEL_METHODS))
def test_channel_batch_size_changes_only_the_forwards(method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """1 or 7 channels per forward, in float64: the channel scores move by forward rounding only
    (FORWARD_ERROR of their magnitude, twice: both runs), and the same scores give identical maps."""
    model, x = small_cnn().double(), small_inputs(3).double()
    recorded: list[Tensor] = []
    target_scores = Probe.target_scores

    def record(probe: Probe, n_rows: int, logits_of: Callable[[Tensor], Tensor]) -> Tensor:
        recorded.append(target_scores(probe, n_rows, logits_of))
        return recorded[-1]

    monkeypatch.setattr(Probe, "target_scores", record)
    one = model_cams(model, "2", x, None, [method], batch_size=1)[method]
    model_cams(model, "2", x, None, [method], batch_size=7)
    by_one, by_seven = torch.cat(recorded[:3]), torch.cat(recorded[3:])
    assert ((by_one - by_seven).abs() <= 2 * FORWARD_ERROR * by_one.abs()).all()
    replay = iter(recorded[:3])
    monkeypatch.setattr(Probe, "target_scores", lambda *_: next(replay))
    assert torch.equal(model_cams(model, "2", x, None, [method], batch_size=7)[method], one)


def test_wrong_targets_length() -> None:
    with pytest.raises(ValueError, match=r"targets: .*shape \(5,\)"):
        compute_cams(small_cnn(), "2", small_inputs(), ["gradcam"], targets=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"targets: class indices must lie in \[0, 4\)"):
        compute_cams(small_cnn(), "2", small_inputs(2), ["gradcam"], targets=torch.tensor([0, 4]))


def test_unknown_method_lists_valid_methods() -> None:
    with pytest.raises(ValueError, match=r"'gradcam\+\+'.*'gradcampp'.*'ablationcam'"):
        compute_cams(small_cnn(), "2", small_inputs(), ["gradcam", "gradcam++"])
    with pytest.raises(ValueError, match=r"'scorecam'.*takes"):
        gradient_family(torch.ones(1, 2, 3, 3), torch.ones(1, 2, 3, 3), ["scorecam"], (6, 6))


def test_target_layer_path_module_and_errors() -> None:
    model, x = small_cnn(), small_inputs(2)
    by_path = compute_cams(model, "2", x, ["layercam"])["layercam"]
    assert torch.equal(by_path, compute_cams(model, model[2], x, ["layercam"])["layercam"])
    with pytest.raises(ValueError, match=r"'head' is not a module of Sequential; valid paths: 0, 1, 2"):
        compute_cams(model, "head", x, ["gradcam"])
    with pytest.raises(ValueError, match=r"'22' is not a module of Sequential; did you mean 2\? valid paths"):
        compute_cams(model, "22", x, ["gradcam"])
    with pytest.raises(ValueError, match=r"'' is not a module of Sequential"):  # the model is no target
        compute_cams(model, "", x, ["gradcam"])
    with pytest.raises(ValueError, match="the ReLU given is not a submodule of Sequential"):
        compute_cams(model, nn.ReLU(), x, ["gradcam"])
    with pytest.raises(ValueError, match="training mode"):
        compute_cams(model.train(), "2", x, ["gradcam"])


def test_token_reshape_vit_swin_and_cnn() -> None:
    torch.manual_seed(0)
    vit = VisionTransformer(image_size=32, patch_size=8, num_layers=1, num_heads=2, hidden_dim=16, mlp_dim=32)
    nn.init.normal_(vit.heads.head.weight)  # torchvision zero-initialises the head: all logits 0
    to_maps = token_reshape(vit, 32)
    tokens = torch.randn(2, 1 + 4 * 4, 16)
    maps = to_maps(tokens)
    assert maps.shape == (2, 16, 4, 4)
    assert torch.equal(maps[1, 5, 2, 3], tokens[1, 1 + 2 * 4 + 3, 5])  # class token dropped, row-major grid
    assert token_reshape(vit, (32, 24))(torch.randn(1, 1 + 4 * 3, 16)).shape == (1, 16, 4, 3)
    with pytest.raises(ValueError, match="multiple of the ViT patch size 8"):
        token_reshape(vit, 30)
    with pytest.raises(ValueError, match=r"ViT tokens: expected \(N, 17, C\)"):
        to_maps(torch.randn(2, 10, 16))

    swin = SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[1, 1], num_heads=[1, 1], window_size=[2, 2])
    hwc = torch.randn(2, 3, 5, 16)
    assert torch.equal(token_reshape(swin, 24)(hwc), hwc.permute(0, 3, 1, 2))
    assert token_reshape(resnet18(), 64) is None

    # end to end: the ViT CAMs live on the 4x4 patch grid of a 32 px input
    cams = compute_cams(
        vit.eval(),
        "encoder.layers.encoder_layer_0.ln_1",
        torch.randn(1, 3, 32, 32),
        ["gradcam", "ablationcam"],
        reshape=to_maps,
    )
    assert all(cam.shape == (1, 32, 32) and cam.isfinite().all() for cam in cams.values())
