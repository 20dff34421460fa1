"""Faithfulness kernels: deletion/insertion, ROAD and region deletion, by hand and against
torchcam 0.5, pytorch-grad-cam 1.5.7 and Quantus 0.6 on tiny models.

Tolerances come from tests/trust_bounds.py: two float32 evaluations of a probability on the same
input may differ by gamma_L S (L the network's accumulation length, S its absolute logit bound),
an AUC, a convex combination of probabilities, by as much.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from camrobust import vocabulary
from camrobust.faithfulness import (
    DeletionInsertionSettings,
    RegionDeletionSettings,
    RoadSettings,
    deletion_insertion,
    gaussian_blur,
    noisy_linear_imputation,
    pixel_counts,
    pixel_ranks,
    quantus_irof,
    reference_images,
    region_deletion,
    region_ranks,
    removed_count,
    road,
)
from camrobust.faithfulness.road import NEIGHBOUR_WEIGHTS
from camrobust.scoring import region_importance
from tests.trust_bounds import U32, probability_tolerance

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CLASSES = 5


def tiny_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(6, 8, 3, padding=1, stride=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(32, CLASSES),
    ).eval()


def inputs(n: int = 4, size: int = 12, seed: int = 1) -> Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def tie_free_maps(n: int, size: int, seed: int = 2) -> Tensor:
    """Maps in [0.5, 1) without ties (a permutation of distinct values): 1 - e is exact in float32."""
    generator = torch.Generator().manual_seed(seed)
    values = 0.5 + 0.5 * torch.stack([torch.randperm(size * size, generator=generator) for _ in range(n)]).float()
    return (values / (size * size)).view(n, size, size)


class RegionLogit(nn.Module):
    """Two classes: z_0 = a x (sum of the input over the pixels of ``region``, all channels), z_1 = 0."""

    def __init__(self, region: Tensor, a: float) -> None:
        super().__init__()
        self.register_buffer("region", region.float())
        self.a = a

    def forward(self, x: Tensor) -> Tensor:
        z0 = self.a * (x * self.region).sum((1, 2, 3))
        return torch.stack([z0, torch.zeros_like(z0)], 1)


def region_logit(region: Tensor, a: float) -> nn.Module:
    return RegionLogit(region, a).eval()


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


# ----------------------------------------------------------------------------- deletion/insertion


def test_deletion_and_insertion_curves_of_a_region_model_by_hand() -> None:
    """x = 1 everywhere, z_0 = a sum_R x: deleting c of R's 6 pixels first leaves
    p(c) = sigmoid(3 a max(6 - c, 0)); inserting them into zeros gives sigmoid(3 a min(c, 6))."""
    region = torch.zeros(8, 8, dtype=torch.bool)
    region[2:4, 3:6] = True
    model, a = region_logit(region, 0.25), 0.25
    x = torch.ones(1, 3, 8, 8)
    maps = torch.where(region, 2.0, 1.0) - torch.arange(64).view(8, 8) / 1000  # R first, no ties
    settings = DeletionInsertionSettings(steps=65, insertion_start="mean")
    result = deletion_insertion(model, x, maps[None], torch.tensor([0]), settings)
    deletion = [sigmoid(3 * a * max(6 - c, 0)) for c in range(65)]
    insertion = [sigmoid(3 * a * min(c, 6)) for c in range(65)]
    # a sum of at most 18 ones (exact in float32), then a float32 softmax: a few ulp of p
    assert np.abs(result.deletion[0].numpy() - deletion).max() <= 4 * U32
    assert np.abs(result.insertion[0].numpy() - insertion).max() <= 4 * U32
    auc = np.trapezoid(deletion, dx=1 / 64), np.trapezoid(insertion, dx=1 / 64)
    # 64 trapezoids of float32 terms <= 1/64: 64 roundings of values <= 1
    assert abs(float(result.deletion_auc[0]) - auc[0]) <= 64 * U32
    assert abs(float(result.insertion_auc[0]) - auc[1]) <= 64 * U32
    assert torch.equal(result.fractions, torch.arange(65, dtype=torch.float64) / 64)


class MapExtractor:
    """torchcam's CAM extractor protocol, returning given maps (already at input resolution, so
    torchcam's bilinear resize is the identity)."""

    def __init__(self, model: nn.Module, maps: Tensor) -> None:
        self.model, self.maps = model, maps

    def __call__(self, class_idx: Any = None, scores: Any = None, normalized: bool = True, **_: Any) -> list[Tensor]:
        return [self.maps]

    def fuse_cams(self, cams: list[Tensor]) -> Tensor:
        return cams[0]

    def _hooks_off(self) -> nullcontext:
        return nullcontext()


@pytest.mark.parametrize(("size", "steps"), [(12, 7), (12, 20), (16, 10)])
def test_deletion_insertion_equal_torchcam(size: int, steps: int) -> None:
    from torchcam.metrics import DeletionInsertionMetric

    model, x = tiny_cnn(), inputs(4, size)
    maps = tie_free_maps(4, size)
    targets = model(x).argmax(1)
    settings = DeletionInsertionSettings(steps=steps + 1, spacing="ceil", insertion_start="mean", batch_size=5)
    ours = deletion_insertion(model, x, maps, targets, settings)
    theirs = []
    for i in range(len(x)):
        metric = DeletionInsertionMetric(
            MapExtractor(model, maps[i : i + 1]), lambda z: torch.softmax(z, -1), steps=steps, batch_size=3
        )
        metric.update(x[i : i + 1])
        theirs.append(metric.summary())
    tolerance = probability_tolerance(model, x, CLASSES)
    for key, values in (("deletion_auc", ours.deletion_auc), ("insertion_auc", ours.insertion_auc)):
        diff = np.abs(values.numpy() - [t[key] for t in theirs]).max()
        assert diff <= tolerance, (key, diff, tolerance)
    step = math.ceil(size * size / steps)
    assert pixel_counts(size * size, steps + 1, "ceil") == [*range(0, size * size, step), size * size]


def test_deletion_insertion_do_not_depend_on_batching() -> None:
    model, x = tiny_cnn(), inputs(5)
    maps, targets = tie_free_maps(5, 12), model(x).argmax(1)
    one = deletion_insertion(model, x, maps, targets, DeletionInsertionSettings(steps=9, batch_size=1))
    many = deletion_insertion(model, x, maps, targets, DeletionInsertionSettings(steps=9, batch_size=64))
    alone = deletion_insertion(model, x[2:3], maps[2:3], targets[2:3], DeletionInsertionSettings(steps=9))
    tolerance = probability_tolerance(model, torch.maximum(x.abs(), gaussian_blur(x, 5 / 224 * 12).abs()), CLASSES)
    assert (one.deletion - many.deletion).abs().max() <= tolerance
    assert (one.insertion - many.insertion).abs().max() <= tolerance
    assert (alone.deletion_auc - many.deletion_auc[2]).abs().max() <= tolerance


def test_a_nan_map_gives_a_nan_row_only() -> None:
    model, x = tiny_cnn(), inputs(3)
    maps = tie_free_maps(3, 12)
    maps[1, 4, 4] = math.nan
    result = deletion_insertion(model, x, maps, torch.zeros(3, dtype=torch.long), DeletionInsertionSettings(steps=5))
    assert torch.isnan(result.deletion[1]).all() and torch.isnan(result.insertion_auc[1])
    assert torch.isfinite(result.deletion[[0, 2]]).all() and torch.isfinite(result.deletion_auc[[0, 2]]).all()


@pytest.mark.parametrize("steps", [1, 0, -3])
def test_steps_below_two_is_an_error_naming_the_setting(steps: int) -> None:
    with pytest.raises(ValueError, match="steps: must be an integer >= 2"):
        DeletionInsertionSettings(steps=steps)
    with pytest.raises(ValueError, match="steps"):
        pixel_counts(100, steps)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"spacing": "log"}, "spacing"),
        ({"deletion_baseline": "zeros"}, "deletion_baseline"),
        ({"insertion_start": "noise"}, "insertion_start"),
        ({"blur_sigma": 0.0}, "blur_sigma"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_settings_name_the_setting(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DeletionInsertionSettings(**settings)


def test_bad_calls_name_the_argument() -> None:
    model, x = tiny_cnn(), inputs(2)
    with pytest.raises(ValueError, match="maps: expected"):
        deletion_insertion(model, x, torch.rand(2, 6, 6), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="targets"):
        deletion_insertion(model, x, torch.rand(2, 12, 12), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="training mode"):
        deletion_insertion(tiny_cnn().train(), x, torch.rand(2, 12, 12), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="mean, std"):
        settings = DeletionInsertionSettings(deletion_baseline="black")
        deletion_insertion(model, x, torch.rand(2, 12, 12), torch.zeros(2, dtype=torch.long), settings)


def test_references() -> None:
    x = inputs(2, 16)
    assert torch.equal(reference_images(x, "mean"), torch.zeros_like(x))
    black = reference_images(x, "black", mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.5))
    assert torch.allclose(black[:, :, 0, 0], torch.tensor([-2.5, -1.6, -0.6]), rtol=0, atol=2 * U32 * 3)
    impulse = torch.zeros(1, 1, 21, 21)
    impulse[0, 0, 10, 10] = 1
    kernel = gaussian_blur(impulse, 2.0)[0, 0, 10]
    expected = torch.exp(-(torch.arange(-6, 7.0) ** 2) / 8)
    expected = expected / expected.sum()
    assert torch.allclose(kernel[4:17], expected * expected[6], atol=4 * U32)
    assert torch.allclose(
        gaussian_blur(torch.full((1, 3, 9, 9), 0.7), 1.5), torch.full((1, 3, 9, 9), 0.7), atol=8 * U32
    )
    # linear with weights summing to 1: blur(a x + b) = a blur(x) + b
    assert torch.allclose(gaussian_blur(2 * x - 1, 1.0), 2 * gaussian_blur(x, 1.0) - 1, atol=64 * U32)


def test_pixel_ranks_break_ties_in_raster_order() -> None:
    maps = torch.tensor([[[0.5, 0.9], [0.5, 0.9]]])
    assert pixel_ranks(maps).tolist() == [[[2, 0], [3, 1]]]
    assert pixel_ranks(maps, descending=False).tolist() == [[[0, 2], [1, 3]]]


# ------------------------------------------------------------------------------------------ ROAD


@pytest.mark.parametrize("n_pixels", [144, 256, 50176, 1001])
def test_removed_pixels_are_pytorch_grad_cams(n_pixels: int) -> None:
    """The rank rule picks the pixels pytorch-grad-cam's percentile threshold picks (maps without ties)."""
    values = np.random.default_rng(n_pixels).permutation(n_pixels).astype(np.float32) / n_pixels * 0.5 + 0.5
    maps = torch.from_numpy(values).view(1, 1, -1)
    for q in (10, 20, 30, 40, 50, 60, 70, 80, 90, 33.3):
        morf = values >= np.percentile(values, 100 - q)  # RemoveMostRelevantFirst(100 - q): mask < threshold kept
        inverse = 1 - values
        lerf = inverse >= np.percentile(inverse, 100 - q)  # RemoveLeastRelevantFirst(100 - q), on 1 - cam
        count = removed_count(n_pixels, q)
        assert np.array_equal((pixel_ranks(maps)[0, 0] < count).numpy(), morf), q
        assert np.array_equal((pixel_ranks(maps, descending=False)[0, 0] < count).numpy(), lerf), q


def test_road_equals_pytorch_grad_cam_without_noise() -> None:
    from pytorch_grad_cam.metrics.perturbation_confidence import (
        PerturbationConfidenceMetric,
        RemoveLeastRelevantFirst,
        RemoveMostRelevantFirst,
    )
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    model, x = tiny_cnn(), inputs(3, 12)
    maps = tie_free_maps(3, 12)
    targets = model(x).argmax(1)
    percentages = (10, 30, 50, 70, 90)
    ours = road(model, x, maps, targets, RoadSettings(percentages, noise=0.0), ids=["a", "b", "c"], seed=0)
    wanted = [ClassifierOutputSoftmaxTarget(int(t)) for t in targets]
    theirs = {"morf": [], "lerf": []}
    for q in percentages:
        for mode, remove in (("morf", RemoveMostRelevantFirst), ("lerf", RemoveLeastRelevantFirst)):
            metric = PerturbationConfidenceMetric(remove(100 - q, NoisyLinearImputer(noise=0.0)))
            theirs[mode].append(metric(x, maps.numpy(), wanted, model, return_diff=False))
    # the same imputed values up to the LU's float64 rounding, cast to float32 (one rounding of
    # each input value at most), then two float32 forwards: the forward bound on |x| + one ulp
    tolerance = probability_tolerance(model, x.abs() * (1 + 2 * U32), CLASSES)
    for mode, values in (("morf", ours.morf), ("lerf", ours.lerf)):
        diff = np.abs(values.numpy() - np.stack(theirs[mode], 1)).max()
        assert diff <= tolerance, (mode, diff, tolerance)
    clean = torch.softmax(model(x), 1).gather(1, targets[:, None])[:, 0]
    assert (ours.clean - clean).abs().max() <= tolerance
    assert torch.allclose(ours.morf_score, ours.morf.mean(1)) and ours.lerf_score.shape == (3,)


def test_imputation_solves_the_system_a_general_lu_solves() -> None:
    """The symmetric factorisation (no pivoting) gives the general pivoting LU's solution on an
    irregular removed set: two exact solves of one well-conditioned system agree to float64 rounding."""
    from scipy.sparse import csc_matrix
    from scipy.sparse.linalg import spsolve

    generator = torch.Generator().manual_seed(3)
    image = torch.rand(3, 24, 20, generator=generator, dtype=torch.float64)
    keep = torch.rand(24, 20, generator=generator) > 0.7
    imputed = noisy_linear_imputation(image, keep)
    unknown = np.flatnonzero(~keep.numpy().ravel())
    index = {int(p): k for k, p in enumerate(unknown)}
    dense = np.zeros((len(unknown), len(unknown)))
    rhs = np.zeros((len(unknown), 3))
    values = image.numpy().reshape(3, -1)
    for k, p in enumerate(unknown):
        y, x = divmod(int(p), 20)
        for dy, dx, weight in NEIGHBOUR_WEIGHTS:
            if 0 <= y + dy < 24 and 0 <= x + dx < 20:
                q = (y + dy) * 20 + x + dx
                dense[k, k] += weight
                if q in index:
                    dense[k, index[q]] -= weight
                else:
                    rhs[k] += weight * values[:, q]
    general = spsolve(csc_matrix(dense), rhs)
    assert np.abs(imputed.numpy().reshape(3, -1)[:, unknown].T - general).max() <= 1e-12


def test_imputation_reproduces_a_plane_and_keeps_known_pixels() -> None:
    """A linear image is its own imputation inside (symmetric weights average a plane to its centre)."""
    ys, xs = torch.meshgrid(*(torch.arange(10, dtype=torch.float64),) * 2, indexing="ij")
    image = torch.stack([0.3 * ys + 0.1 * xs, -0.2 * xs + 1, torch.full_like(xs, 0.5)])
    keep = torch.ones(10, 10, dtype=torch.bool)
    keep[2:8, 3:9] = False
    imputed = noisy_linear_imputation(image, keep)
    assert torch.equal(imputed[:, keep], image[:, keep])
    assert (imputed - image).abs().max() <= 1e-12  # a well-conditioned 36 x 36 solve in float64
    with pytest.raises(ValueError, match="no known pixel"):
        noisy_linear_imputation(image, torch.zeros(10, 10, dtype=torch.bool))


def test_road_noise_is_seeded_and_only_on_imputed_pixels() -> None:
    image = torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(0))
    keep = torch.rand(40, 40, generator=torch.Generator().manual_seed(1)) > 0.5
    noise = 0.01 * torch.randn(3, 40, 40, generator=torch.Generator().manual_seed(2))
    clean, noisy = noisy_linear_imputation(image, keep), noisy_linear_imputation(image, keep, noise)
    assert torch.equal(noisy[:, keep], image[:, keep])
    assert torch.allclose(noisy[:, ~keep] - clean[:, ~keep], noise[:, ~keep], atol=4 * U32)
    model, x = tiny_cnn(), inputs(2)
    maps = tie_free_maps(2, 12)
    settings = RoadSettings((20, 60))
    first = road(model, x, maps, torch.zeros(2, dtype=torch.long), settings, ids=["a", "b"], seed=0)
    again = road(model, x[[1, 0]], maps[[1, 0]], torch.zeros(2, dtype=torch.long), settings, ids=["b", "a"], seed=0)
    other = road(model, x, maps, torch.zeros(2, dtype=torch.long), settings, ids=["a", "b"], seed=1)
    tolerance = probability_tolerance(model, x.abs() + 0.1, CLASSES)
    assert (first.morf - again.morf[[1, 0]]).abs().max() <= tolerance  # the id seeds the noise, not the position
    assert (first.morf - other.morf).abs().max() > 0


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"percentages": (0, 50)}, "percentages"), ({"percentages": ()}, "percentages"), ({"noise": -1.0}, "noise")],
)
def test_bad_road_settings_name_the_setting(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RoadSettings(**settings)


# ------------------------------------------------------------------------------ region deletion


def quadrants(n: int, size: int) -> Tensor:
    half = size // 2
    labels = torch.zeros(size, size, dtype=torch.long)
    labels[:half, half:], labels[half:, :half], labels[half:, half:] = 1, 2, 3
    return labels.expand(n, size, size).contiguous()


def test_region_deletion_of_a_region_model_by_hand() -> None:
    """Quadrant importances 0.1, 0.5, 0.9, 0.3: quadrant 2 goes first. z_0 = a sum over quadrant 2,
    x = 1: p_0 = sigmoid(48 a), then 1/2 for k = 1..4; AUC = (p_0 + 1/2) / 8 + 3/8."""
    segments = quadrants(1, 8)
    model, a = region_logit(segments[0] == 2, 0.05), 0.05
    maps = torch.tensor([0.1, 0.5, 0.9, 0.3])[segments]
    result = region_deletion(model, torch.ones(1, 3, 8, 8), maps, segments, torch.tensor([0]))
    p0 = sigmoid(48 * a)
    assert np.abs(result.curves[0].numpy() - [p0, 0.5, 0.5, 0.5, 0.5]).max() <= 4 * U32
    assert abs(float(result.auc[0]) - ((p0 + 0.5) / 8 + 3 / 8)) <= 8 * U32
    assert result.n_regions.tolist() == [4] and torch.allclose(result.fractions[0], torch.arange(5) / 4)


def test_region_order_is_the_robustness_scores_ranking() -> None:
    generator = torch.Generator().manual_seed(3)
    maps = torch.rand(3, 16, 16, generator=generator)
    segments = torch.randint(0, 9, (3, 16, 16), generator=generator)
    ranks, n_regions = region_ranks(maps, segments)
    importance = region_importance(maps, segments, 9)
    for i in range(3):
        order = np.argsort(-importance[i], kind="stable")
        for position, label in enumerate(order[: int(n_regions[i])]):
            assert (ranks[i][segments[i] == int(label)] == position).all()


def test_region_deletion_pads_images_with_fewer_regions() -> None:
    model, x = tiny_cnn(), inputs(2)
    segments = quadrants(2, 12)
    segments[1] = segments[1].clamp(max=1)  # image 1: two regions
    result = region_deletion(model, x, tie_free_maps(2, 12), segments, torch.zeros(2, dtype=torch.long))
    assert result.n_regions.tolist() == [4, 2]
    assert torch.isfinite(result.curves[0]).all() and torch.isnan(result.curves[1, 3:]).all()
    expected = (result.curves[1, :2] + result.curves[1, 1:3]).sum() / 4  # two trapezoids of width 1/2
    assert abs(float(result.auc[1] - expected)) <= 4 * U32


def every_channel(arr: np.ndarray, mask: np.ndarray, **kwargs: Any) -> np.ndarray:
    """Quantus 0.6's IROF passes a (B, 1, H, W) region mask that its own perturbation asserts is
    (B, C, H, W) (it only runs on one-channel inputs); broadcast it over the channels."""
    from quantus.functions.perturb_func import baseline_replacement_by_mask

    return baseline_replacement_by_mask(arr=arr, mask=np.broadcast_to(mask, arr.shape), **kwargs)


def test_region_deletion_equals_quantus_irof(monkeypatch: pytest.MonkeyPatch) -> None:
    import quantus
    from quantus.helpers import utils

    model, x = tiny_cnn(), inputs(4, 16)
    maps = tie_free_maps(4, 16)
    # Every image with the same number of regions (6, in 4 x 4 px blocks): Quantus 0.6 pads the
    # curves of images with fewer regions than the batch's most with zeros and integrates down to
    # that zero, adding p_m / (2 p_0) to their AOC (its score then depends on the batch).
    generator = torch.Generator().manual_seed(5)
    blocks = torch.stack([torch.randperm(16, generator=generator) % 6 for _ in range(4)]).view(4, 4, 4)
    segments = blocks.repeat_interleave(4, 1).repeat_interleave(4, 2)
    targets = model(x).argmax(1)
    ours = region_deletion(model, x, maps, segments, targets, RegionDeletionSettings(batch_size=7))
    monkeypatch.setattr(np, "trapz", np.trapezoid, raising=False)  # Quantus 0.6 calls np.trapz, gone in NumPy 2.4
    given = iter(segments.numpy())
    monkeypatch.setattr(utils, "get_superpixel_segments", lambda img, segmentation_method: next(given))
    metric = quantus.IROF(
        perturb_func=every_channel, perturb_baseline=0.0, return_aggregate=False, disable_warnings=True
    )
    theirs = metric(
        model=model, x_batch=x.numpy(), y_batch=targets.numpy(), a_batch=maps[:, None].numpy(), device="cpu"
    )
    # AOC = m - sum of (p_k + p_k+1) / (2 p_0): each ratio moves by at most 2 tol / p_0
    tolerance = probability_tolerance(model, x, CLASSES)
    bound = float((2 * ours.n_regions * 2 * tolerance / ours.curves[:, 0]).max()) + 64 * U32
    diff = np.abs(quantus_irof(ours).numpy() - np.asarray(theirs)).max()
    assert diff <= bound, (diff, bound)


def test_scores_have_their_directions() -> None:
    directions = {score.name: score.higher_is_better for score in vocabulary.FAITHFULNESS}
    assert directions == {
        "deletion_auc": False,
        "insertion_auc": True,
        "road_morf": False,
        "road_lerf": True,
        "region_deletion_auc": False,
    }
    assert {vocabulary.axis_of(name).name for name in directions} == {"faithfulness"}
    assert vocabulary.axis_of("rm").name == "robustness"
    with pytest.raises(KeyError, match="on no axis"):
        vocabulary.axis_of("ssim")
