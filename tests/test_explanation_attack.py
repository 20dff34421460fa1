"""The explanation attack: exact acceptance, known answers on tiny models, determinism, transfer."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from camrobust.cams import GRADIENT_METHODS, cam_map_function
from camrobust.cams.differentiable import SurrogateGradients, differentiable_raw_maps, smooth_relu
from camrobust.cams.target import resolve_target
from camrobust.models import SmallResNet
from camrobust.noise import (
    ExplanationAttackSettings,
    explanation_attack,
    explanation_attack_images,
    perturb,
    transfer_explanation_attack,
)
from camrobust.noise.draws import generators
from camrobust.noise.explanation_attack import AttackedCam, clean_view
from camrobust.noise.pixels import normaliser, to_unit_nchw

SIZE = 16
CELL = 4
GREY = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # mean, std: the models see x itself
RBO_ROUNDING = 1e-12
"""RBO of two identical rankings is 1 up to the float64 rounding of its geometric sums."""


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Small tensors: one torch thread (the shared conftest fixture)."""


def grid_segments(n: int) -> np.ndarray:
    """(n, SIZE, SIZE) labels of a grid of CELL x CELL squares (16 regions)."""
    rows = np.arange(SIZE)[:, None] // CELL * (SIZE // CELL) + np.arange(SIZE)[None, :] // CELL
    return np.tile(rows, (n, 1, 1)).astype(np.int32)


def staircase(n: int, seed: int = 0, step: int = 2) -> np.ndarray:
    """Grey images whose 16 grid cells have the levels 100, 100 + step, ..., in a random order."""
    rng = np.random.default_rng(seed)
    levels = np.stack([100 + step * rng.permutation(16) for _ in range(n)])
    cells = levels.reshape(n, SIZE // CELL, SIZE // CELL).repeat(CELL, 1).repeat(CELL, 2)
    return np.repeat(cells[..., None], 3, axis=3).astype(np.uint8)


def textured(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8)


class Brightness(nn.Module):
    """A = the grey level (1x1 conv, weights 1/3); logits = W mean(A) + b. GradCAM of class t is
    W_t A / (H W): for W_t > 0 the CAM ranks the regions by brightness, so lowering the
    brightest regions and raising the others reorders it, and the margins decide whether the
    prediction can change."""

    def __init__(self, weight: tuple[float, ...], bias: tuple[float, ...]) -> None:
        super().__init__()
        self.features = nn.Conv2d(3, 1, 1, bias=False)
        self.head = nn.Linear(1, len(weight))
        with torch.no_grad():
            self.features.weight.fill_(1 / 3)
            self.head.weight.copy_(torch.tensor(weight).view(-1, 1))
            self.head.bias.copy_(torch.tensor(bias))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).mean((2, 3)))


class InputFree(nn.Module):
    """The target layer ignores the input (a fixed map); the prediction reads the input."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.maps = nn.Parameter(torch.rand(1, 4, SIZE, SIZE, generator=generator))
        self.source = nn.Identity()
        self.head = nn.Linear(4, 3)
        self.pixel = nn.Linear(3, 3)

    def forward(self, x: Tensor) -> Tensor:
        a = self.source(self.maps.expand(len(x), -1, -1, -1))
        return self.head(a.mean((2, 3))) + self.pixel(x.mean((2, 3)))


def assert_rounding(actual: np.ndarray, desired: np.ndarray, err_msg: str) -> None:
    """Equal up to float32 rounding: a convolution's sums may be ordered by the batch size."""
    np.testing.assert_allclose(actual, desired, rtol=1e-5, atol=1e-7, err_msg=err_msg)


def seeded_resnet() -> nn.Module:
    torch.manual_seed(0)
    return SmallResNet(3).eval()


def run(model: nn.Module, images: np.ndarray, layer: str, **options: object) -> object:
    defaults: dict[str, object] = {"method": "gradcam", "mean": GREY[0], "std": GREY[1], "seed": 0}
    ids = [f"img{i}" for i in range(len(images))]
    return explanation_attack_images(
        model, images, grid_segments(len(images)), ids, target_layer=layer, **(defaults | options)
    )


# ---------------------------------------------------------------------------- surrogate


def test_smooth_relu_is_relu_in_value_and_sigmoid_in_derivative() -> None:
    z = torch.randn(10_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 5
    z[:3] = torch.tensor([0.0, 40.0, -40.0], dtype=torch.float64)
    z.requires_grad_(True)
    value = smooth_relu(z, beta=3.0)
    assert torch.equal(value.view(torch.int64), torch.relu(z).view(torch.int64))  # bitwise
    (derivative,) = torch.autograd.grad(value.sum(), z, create_graph=True)
    assert torch.equal(derivative, torch.sigmoid(3.0 * z))
    (second,) = torch.autograd.grad(derivative.sum(), z)
    sigmoid = torch.sigmoid(3.0 * z)
    torch.testing.assert_close(second, 3.0 * sigmoid * (1 - sigmoid), rtol=1e-12, atol=1e-300)
    assert (second[(3.0 * z).abs() < 30] > 0).all()  # the second-order term a ReLU lacks (1 - sigmoid > 0)
    # the formula it stands for: value relu(z), derivative that of softplus_beta
    s = F.softplus(z, beta=3.0)
    reference = torch.relu(z).detach() + (s - s.detach())
    (softplus_derivative,) = torch.autograd.grad(reference.sum(), z)
    assert torch.equal(reference.detach(), value.detach())
    torch.testing.assert_close(softplus_derivative, derivative, rtol=1e-8, atol=0)


def test_the_surrogate_leaves_every_forward_value_as_the_real_models() -> None:
    import torchvision

    model = torchvision.models.resnet18(num_classes=3).eval()  # in-place nn.ReLU modules
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        real = model(x)
        with SurrogateGradients(10.0):
            smooth = model(x)
            functional = [F.relu(x, inplace=True).clone(), torch.relu(x), x.relu()]
    assert torch.equal(real, smooth)
    assert all(torch.equal(out, torch.relu(x)) for out in functional)
    with pytest.raises(ValueError, match="beta"):
        SurrogateGradients(0.0)


def test_the_cam_is_differentiable_in_the_input_through_the_relus_after_the_target() -> None:
    """SmallVGG-like tail: a ReLU between the target layer and the logits makes g depend on the
    input only through relu'; without the surrogate the CAM's input gradient along g is 0."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 1), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    x = torch.rand(1, 3, 8, 8)
    model(x)
    model.eval()

    def gradient(beta: float | None) -> Tensor:
        xr = x.clone().requires_grad_(True)
        if beta is None:
            _, raw = differentiable_raw_maps(model, "0", xr, torch.tensor([0]), "gradcam")
        else:
            with SurrogateGradients(beta):
                _, raw = differentiable_raw_maps(model, "0", xr, torch.tensor([0]), "gradcam")
        (grad,) = torch.autograd.grad(raw.sum(), xr)
        return grad

    assert not torch.equal(gradient(5.0), gradient(None))


class _AttentionAfterTarget(nn.Module):
    """A conv target layer, then self-attention over its 4 x 4 cells (as a ViT's blocks) and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 4, stride=4)
        self.attention = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.conv(x).flatten(2).transpose(1, 2)
        mixed, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        return self.head(mixed.mean(1))


def test_the_search_differentiates_through_attention_after_the_target_layer() -> None:
    """The CAM's input gradient runs through attention's backward, which the fused CPU kernel
    cannot differentiate again: the surrogate runs attention by the math kernel."""
    torch.manual_seed(0)
    model = _AttentionAfterTarget().eval()
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    segments = np.repeat((np.arange(16)[:, None] // 4 * 4 + np.arange(16)[None, :] // 4)[None], 2, 0)
    result = explanation_attack_images(
        model,
        images,
        segments,
        ["a", "b"],
        method="gradcam",
        target_layer="conv",
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
        seed=0,
        severities=(5,),
        settings=ExplanationAttackSettings(steps=2),
    )
    assert (result.pred == result.clean_pred[:, None]).all()
    assert np.isfinite(result.rbo).all() and (result.rbo <= 1).all()


def test_eigencam_gets_a_finite_gradient_where_the_svd_backward_is_nan() -> None:
    """Dead channels repeat the singular value 0: torch's SVD backward is NaN. The surrogate's
    top singular vector has the SVD's value and, with a clear gap s1 > s2, nearly its gradient."""
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(2, 6, 5, 5, generator=generator, dtype=torch.float64)
    a[:, 3:] = 0  # dead channels
    g = torch.rand(2, 6, 5, 5, generator=generator, dtype=torch.float64)

    def gradient(surrogate: bool) -> tuple[Tensor, Tensor]:
        x = a.clone().requires_grad_(True)
        if surrogate:
            with SurrogateGradients(10.0):
                raw = GRADIENT_METHODS["eigencam"](x, g)
        else:
            raw = GRADIENT_METHODS["eigencam"](x, g)
        (grad,) = torch.autograd.grad((raw * torch.linspace(0, 1, 25, dtype=torch.float64).view(5, 5)).sum(), x)
        return raw.detach(), grad

    exact_map, exact_grad = gradient(False)
    smooth_map, smooth_grad = gradient(True)
    assert not torch.isfinite(exact_grad).all()
    assert torch.isfinite(smooth_grad).all()
    torch.testing.assert_close(smooth_map, exact_map, rtol=1e-9, atol=1e-12)
    # a well-conditioned case: the same gradient up to the power iteration's (s2 / s1)^8
    b = torch.rand(1, 4, 6, 6, generator=generator, dtype=torch.float64) * torch.tensor([3.0, 1, 1, 1]).view(1, 4, 1, 1)
    grads = []
    for surrogate in (False, True):
        x = b.clone().requires_grad_(True)
        with SurrogateGradients(10.0) if surrogate else contextlib.nullcontext():
            raw = GRADIENT_METHODS["eigencam"](x, x)
        grads.append(torch.autograd.grad((raw * torch.linspace(0, 1, 36, dtype=torch.float64).view(6, 6)).sum(), x)[0])
    cosine = F.cosine_similarity(grads[0].flatten(), grads[1].flatten(), dim=0)
    assert cosine > 0.99, cosine


# ---------------------------------------------------------------------------- known answers


def test_a_cam_invariant_to_every_input_keeps_the_clean_image() -> None:
    images = textured(3)
    result = run(InputFree().eval(), images, "source", severities=(3, 5))
    np.testing.assert_array_equal(result.images, np.repeat(images[:, None], 2, 1))
    assert not result.found.any()
    np.testing.assert_allclose(result.rbo, 1.0, rtol=0, atol=RBO_ROUNDING)
    np.testing.assert_array_equal(result.pred, result.clean_pred[:, None].repeat(2, 1))


def test_a_cam_with_an_obvious_direction_drops() -> None:
    """Brightness ranks the regions by grey level, 2 levels apart; the class margin is 10 logits,
    out of reach. At 8/255 the top regions fall 8 levels and the others rise 8: the clean top
    fifth ends up mid-ranking."""
    images = staircase(4)
    model = Brightness(weight=(1.0, 0.0), bias=(10.0, 0.0)).eval()
    result = run(model, images, "features", severities=(1, 4, 5))
    assert result.found[:, 1:].all()
    assert (result.rbo[:, 1] < 0.6).all(), result.rbo
    assert (result.rbo[:, 2] <= result.rbo[:, 1] + 0.05).all()
    assert (result.rbo[:, 0] < 1).all()
    budget = np.abs(result.images.astype(int) - images[:, None].astype(int)).max(axis=(2, 3, 4))
    assert (budget <= [1, 8, 16]).all(), budget


def test_maps_explain_the_given_targets_when_there_are_some() -> None:
    """cam_options.target: label. Brightness predicts class 0 (bias 10); the maps explain class
    1, whose GradCAM is 2 A / (H W) on every image, clean or attacked."""
    images = staircase(2)
    model = Brightness(weight=(1.0, 2.0), bias=(10.0, 0.0)).eval()
    result = run(model, images, "features", severities=(4,), targets=np.array([1, 1]))
    np.testing.assert_array_equal(result.clean_pred, [0, 0])
    np.testing.assert_array_equal(result.pred, [[0], [0]])
    np.testing.assert_array_equal(result.target, [[1], [1]])
    np.testing.assert_array_equal(result.clean_target, [1, 1])
    grey = result.images[:, 0].astype(np.float32).mean(-1) / 255
    np.testing.assert_allclose(result.maps[:, 0], 2 * grey / SIZE**2, rtol=1e-5)
    assert result.found.all()
    with pytest.raises(ValueError, match=r"targets: expected 2 integer class indices"):
        run(model, images, "features", targets=np.array([1.0, 1.0]))


@dataclass(frozen=True)
class Counting(AttackedCam):
    """An AttackedCam that records the real predictions of every iterate it scores."""

    seen: list[Tensor] = field(default_factory=list)

    def real(self, x: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        out = super().real(x, targets)
        self.seen.append(out[0])
        return out


def test_every_kept_image_keeps_its_predicted_class() -> None:
    """y0 - y1 = 255 (mean grey - threshold), the threshold 1.5 grey levels above every image's
    mean: class 1, whose CAM ranks the regions by brightness. Lowering the top fifth and raising
    the rest raises the mean grey, so many iterates cross to class 0; none of them is kept."""
    images = staircase(6, seed=1)
    threshold = images.astype(float).mean(axis=(1, 2, 3)).max() + 1.5
    model = Brightness(weight=(2 * 255.0, 255.0), bias=(0.0, float(threshold))).eval()
    x = to_unit_nchw(torch.as_tensor(images))
    cam = Counting(model, resolve_target(model, "features"), "gradcam", normaliser(*GREY, torch.device("cpu")))
    clean = clean_view(cam, x, grid_segments(6))
    cam.seen.clear()
    found = explanation_attack(cam, clean, 16 / 255, generators("", "explanation_attack", 5, 0, list("abcdef")))
    flipped = torch.stack(cam.seen) != clean.pred
    assert flipped.any(), "the test needs iterates that change the class"
    assert torch.equal(found.pred, clean.pred)
    with torch.no_grad():
        assert torch.equal(model(found.images).argmax(1), clean.pred)  # the stored image, re-run


# ------------------------------------------------------------------------------ determinism


def test_results_do_not_depend_on_batch_size_or_job_split_and_repeat_exactly() -> None:
    images, model = textured(5, seed=2), seeded_resnet()
    ids = [f"img{i}" for i in range(5)]
    options: dict[str, object] = {
        "method": "gradcampp", "target_layer": "layer3", "mean": (0.5,) * 3, "std": (0.5,) * 3, "seed": 3,
        "severities": (2, 5), "settings": ExplanationAttackSettings(steps=3, restarts=2),
    }  # fmt: skip
    segments = grid_segments(5)
    whole = explanation_attack_images(model, images, segments, ids, batch_size=5, **options)
    single = explanation_attack_images(model, images, segments, ids, batch_size=1, **options)
    split = [
        explanation_attack_images(model, images[s], segments[s], ids[s], **options) for s in (slice(0, 2), slice(2, 5))
    ]
    again = explanation_attack_images(model, images, segments, ids, batch_size=5, **options)
    assert whole.found.any()
    for name in ("images", "pred", "target", "found", "clean_pred", "maps", "rbo"):
        np.testing.assert_array_equal(getattr(whole, name), getattr(again, name), err_msg=name)  # CPU: bitwise
        # other batches: the kept images bitwise; maps and RBO up to the rounding of batched convolutions
        check = np.testing.assert_array_equal if name not in ("maps", "rbo") else assert_rounding
        check(getattr(whole, name), getattr(single, name), err_msg=name)
        check(getattr(whole, name), np.concatenate([getattr(p, name) for p in split]), err_msg=name)
    assert whole.images.shape == (5, 2, SIZE, SIZE, 3) and whole.maps.shape[:2] == (5, 2)
    np.testing.assert_array_equal(whole.severity, [2, 5])


# ------------------------------------------------------------------------------ transfer


def test_model_family_cams_are_scored_on_the_gradcam_images() -> None:
    images, model = textured(3, seed=4), seeded_resnet()
    ids, segments = ["a", "b", "c"], grid_segments(3)
    options = {"mean": (0.5,) * 3, "std": (0.5,) * 3}
    source = explanation_attack_images(
        model, images, segments, ids, method="gradcam", target_layer="layer3", seed=0, severities=(4,), **options
    )
    scorecam = cam_map_function("scorecam", "layer3", batch_size=16)
    transfer = transfer_explanation_attack(model, source, images, segments, scorecam, **options)
    assert transfer.source_cam == "gradcam"
    np.testing.assert_array_equal(transfer.images, source.images)
    np.testing.assert_array_equal(transfer.pred, source.pred)
    assert transfer.maps.shape == source.maps.shape
    assert ((transfer.rbo >= 0) & (transfer.rbo <= 1 + RBO_ROUNDING)).all()


# ------------------------------------------------------------------------------ bad settings


def test_bad_settings_are_clear_errors() -> None:
    images, model = textured(1), seeded_resnet()
    with pytest.raises(ValueError, match=r"steps must be an integer >= 1.*got 0"):
        ExplanationAttackSettings(steps=0)
    with pytest.raises(ValueError, match=r"restarts must be"):
        ExplanationAttackSettings(restarts=0)
    with pytest.raises(ValueError, match=r"beta must be > 0"):
        ExplanationAttackSettings(beta=-1.0)
    with pytest.raises(ValueError, match=r"explanation_attack: severity 6 is out of range; allowed 1\.\.5"):
        run(model, images, "layer3", severities=(6,))
    with pytest.raises(ValueError, match=r"explanation_attack: parameter 1\.5 .*eps in \(0, 1\]"):
        run(model, images, "layer3", severities=(1,), params=1.5)
    with pytest.raises(ValueError, match=r"'scorecam' has no cheap input gradient.*transfer_explanation_attack"):
        run(model, images, "layer3", method="scorecam")
    with pytest.raises(ValueError, match=r"segments: expected the clean images' labels"):
        explanation_attack_images(
            model,
            images,
            grid_segments(2),
            ["a"],
            method="gradcam",
            target_layer="layer3",
            mean=GREY[0],
            std=GREY[1],
            seed=0,
        )
    with pytest.raises(ValueError, match=r"attacks a CAM.*explanation_attack_images"):
        perturb(images, "explanation_attack", 1, 0, ["a"])


# ------------------------------------------------------------------------------ demo CNN


@pytest.mark.slow
def test_worst_case_consistency_is_at_most_uniform_noise_consistency_on_the_tiny_demo() -> None:
    """tests/configs/tiny.yaml through the library: small_vgg trained 2 epochs on 240 shapes
    images of 32 px, 12 evaluation images. For every gradient-family CAM and budget, the mean
    RBO of the attack's images is at most the mean RBO of the class-preserving uniform-noise
    pairs of the same L-inf size (benchmarks/worst_case_vs_uniform.py prints both tables)."""
    from camrobust.cams import compute_cams
    from camrobust.datasets.shapes import generate_shapes
    from camrobust.models import SMALL_CNN_MEAN, SMALL_CNN_STD, build_model, to_model_input, train_model
    from camrobust.scoring import pair_similarities
    from camrobust.segmentation import segment

    train = generate_shapes(240, 32, "plain", 0, split="train")
    model = build_model("small_vgg", 6, seed=0)
    train_model(model, train.images, train.labels, epochs=2, batch_size=32, lr=0.005, seed=0, progress=False)
    model.eval()
    data = generate_shapes(12, 32, "plain", 0)
    segments, layer = segment(data.images), "features.13"
    inputs = to_model_input(data.images, SMALL_CNN_MEAN, SMALL_CNN_STD)
    with torch.no_grad():
        clean_pred = model(inputs).argmax(1)
    noisy = [
        to_model_input(perturb(data.images, "uniform_noise", s, 0, data.ids), SMALL_CNN_MEAN, SMALL_CNN_STD)
        for s in range(1, 6)
    ]
    with torch.no_grad():
        kept = [(model(x).argmax(1) == clean_pred).numpy() for x in noisy]
    gaps = {}
    for method in GRADIENT_METHODS:
        clean = compute_cams(model, layer, inputs, method)[method]
        uniform = [
            np.nanmean(pair_similarities(clean, compute_cams(model, layer, x, method)[method], segments)["rbo"][k])
            for x, k in zip(noisy, kept, strict=True)
        ]
        worst = explanation_attack_images(
            model, data.images, segments, data.ids, method=method, target_layer=layer,
            mean=SMALL_CNN_MEAN, std=SMALL_CNN_STD, seed=0,
        )  # fmt: skip
        assert (worst.pred == worst.clean_pred[:, None]).all()
        gaps[method] = np.nanmean(worst.rbo, 0) - np.asarray(uniform)
    violated = {m: g.round(4).tolist() for m, g in gaps.items() if (g > 0).any()}
    assert not violated, violated
