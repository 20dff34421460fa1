"""Baseline maps: the model-free floor every CAM must beat (random, centre, edge, class blob)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from camrobust import cams, registry
from camrobust.cams import BASELINE_METHODS, baseline_maps, baseline_raw_maps, postprocess
from camrobust.cams.centre_map import CENTRE_SIGMA
from camrobust.cams.class_blob_map import BLOB_CENTRE_RANGE, BLOB_SIGMA_RANGE, class_blob
from camrobust.cams.edge_map import LUMA_WEIGHTS
from camrobust.noise.pixels import GREY_WEIGHTS
from camrobust.scoring import pair_similarities

EPS32 = float(np.finfo(np.float32).eps)


def images(n: int = 4, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def raw(name: str, x: torch.Tensor, targets: torch.Tensor, ids: list[str], grid=(4, 4), seed=0) -> torch.Tensor:
    return baseline_raw_maps(x, targets, [name], ids=ids, grid=grid, seed=seed)[name]


def test_registry_family_and_catalogue_agree() -> None:
    assert registry.BASELINE_CAMS == ("random_map", "centre_map", "edge_map", "class_blob_map")
    assert tuple(BASELINE_METHODS) == registry.BASELINE_CAMS
    assert all(registry.cam(name).family == "baseline" for name in registry.BASELINE_CAMS)
    assert set(cams.EXPLAINING_METHODS).isdisjoint(BASELINE_METHODS)
    assert set(cams.CAM_METHODS) == {*cams.EXPLAINING_METHODS, *BASELINE_METHODS}


def test_shapes_dtype_and_postprocessing() -> None:
    x, targets, ids = images(), torch.tensor([0, 1, 0, 2]), ["a", "b", "c", "d"]
    raws = baseline_raw_maps(x, targets, list(BASELINE_METHODS), ids=ids, grid=(4, 5), seed=3)
    maps = baseline_maps(x, targets, list(BASELINE_METHODS), ids=ids, grid=(4, 5), seed=3)
    for name in BASELINE_METHODS:
        expected = (4, 16, 16) if name == "edge_map" else (4, 4, 5)
        assert raws[name].shape == expected and raws[name].dtype == torch.float32, name
        assert torch.equal(maps[name], postprocess(raws[name], (16, 16))), name
        assert maps[name].shape == (4, 16, 16) and maps[name].min() >= 0 and maps[name].max() <= 1


def test_random_map_is_seeded_per_image_id_whatever_the_batch() -> None:
    x = images()
    maps = raw("random_map", x, torch.zeros(4, dtype=torch.long), ["a", "b", "c", "d"])
    again = raw("random_map", x[[3, 0]], torch.zeros(2, dtype=torch.long), ["d", "a"])
    assert torch.equal(again, maps[[3, 0]])  # the id draws the map, not the batch position
    other_pixels = raw("random_map", images(seed=5), torch.zeros(4, dtype=torch.long), ["a", "b", "c", "d"])
    assert torch.equal(other_pixels, maps)  # model- and pixel-free
    other_seed = raw("random_map", x, torch.zeros(4, dtype=torch.long), ["a", "b", "c", "d"], seed=1)
    assert not torch.equal(other_seed, maps)
    assert maps.min() >= 0 and maps.max() < 1 and len({m.sum().item() for m in maps}) == 4


def test_centre_map_is_the_documented_gaussian() -> None:
    grid = (6, 9)
    ours = raw("centre_map", images(2), torch.zeros(2, dtype=torch.long), ["a", "b"], grid=grid).double()
    v = (np.arange(grid[0]) + 0.5) / grid[0]
    u = (np.arange(grid[1]) + 0.5) / grid[1]
    expected = np.exp(-((v[:, None] - 0.5) ** 2 + (u[None, :] - 0.5) ** 2) / (2 * CENTRE_SIGMA**2))
    # float32 exp of an argument <= 4: relative error a few eps32
    assert np.abs(ours.numpy() - expected).max() <= 8 * EPS32
    assert torch.equal(ours[0], ours[1])


def test_edge_map_is_the_sobel_magnitude_of_the_luma() -> None:
    assert LUMA_WEIGHTS == GREY_WEIGHTS
    x = torch.zeros(2, 3, 8, 8)
    x[0, :, :, 4:] = 1.0  # white right half: a vertical step of 1 in the luma
    x[1, 0, 5:, :] = 1.0  # red bottom rows: a horizontal step of 0.299
    edges = raw("edge_map", x, torch.zeros(2, dtype=torch.long), ["a", "b"])
    expected = torch.zeros(2, 8, 8)
    expected[0, :, 3:5] = 4.0  # (1 + 2 + 1) x the step, on the two columns beside it
    expected[1, 4:6, :] = 4 * 0.299
    # the luma sums 3 float32 products, the Sobel 6 terms: a few eps32 relative
    assert (edges - expected).abs().max() <= 16 * EPS32


def test_class_blob_map_is_one_map_per_class() -> None:
    targets = torch.tensor([2, 5, 2, 5])
    maps = raw("class_blob_map", images(), targets, ["a", "b", "c", "d"], grid=(7, 7))
    assert torch.equal(maps[0], maps[2]) and torch.equal(maps[1], maps[3]) and not torch.equal(maps[0], maps[1])
    alone = raw("class_blob_map", images(1, seed=9), torch.tensor([5]), ["z"], grid=(7, 7))
    assert torch.equal(alone[0], maps[1])  # the class alone draws it
    for target in range(20):
        cy, cx, sigma = class_blob(target, 0)
        assert all(BLOB_CENTRE_RANGE[0] <= c <= BLOB_CENTRE_RANGE[1] for c in (cy, cx))
        assert BLOB_SIGMA_RANGE[0] <= sigma <= BLOB_SIGMA_RANGE[1]
    assert class_blob(2, 0) != class_blob(2, 1)


def test_class_blob_map_games_consistency() -> None:
    """The same class: the same map, RBO 1 whatever the noise did to the image."""
    clean, noisy = images(2, 32), images(2, 32, seed=1)
    segments = torch.arange(64).view(8, 8).repeat_interleave(4, 0).repeat_interleave(4, 1).expand(2, 32, 32)
    kept = torch.tensor([1, 3])
    a = baseline_maps(clean, kept, ["class_blob_map"], ids=["a", "b"], grid=(4, 4), seed=0)["class_blob_map"]
    b = baseline_maps(noisy, kept, ["class_blob_map"], ids=["a", "b"], grid=(4, 4), seed=0)["class_blob_map"]
    c = baseline_maps(noisy, kept + 1, ["class_blob_map"], ids=["a", "b"], grid=(4, 4), seed=0)["class_blob_map"]
    assert np.allclose(pair_similarities(a, b, segments.numpy())["rbo"], 1.0)
    assert (pair_similarities(a, c, segments.numpy())["rbo"] < 0.9).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"images01": torch.rand(2, 3, 8, 8) * 2 - 0.5}, "images01"),
        ({"images01": torch.rand(2, 1, 8, 8)}, "images01"),
        ({"targets": torch.zeros(3, dtype=torch.long)}, "targets"),
        ({"ids": ["a"]}, "ids"),
        ({"grid": (0, 4)}, "grid"),
        ({"methods": ["gradcam"]}, "not computed here"),
        ({"methods": ["nope"]}, "unknown CAM method"),
    ],
)
def test_bad_calls_name_the_argument(change: dict, message: str) -> None:
    call = {
        "images01": torch.rand(2, 3, 8, 8),
        "targets": torch.zeros(2, dtype=torch.long),
        "methods": ["random_map"],
        "ids": ["a", "b"],
        "grid": (2, 2),
    } | change
    with pytest.raises(ValueError, match=message):
        baseline_raw_maps(
            call["images01"], call["targets"], call["methods"], ids=call["ids"], grid=call["grid"], seed=0
        )


def test_compute_cams_needs_images_for_baselines() -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.Flatten(), torch.nn.LazyLinear(3))
    model(torch.rand(1, 3, 8, 8))
    model.eval()
    with pytest.raises(ValueError, match="images01, ids"):
        cams.compute_cams(model, "0", torch.rand(2, 3, 8, 8), ["edge_map"])
    out = cams.compute_cams(
        model, "0", torch.rand(2, 3, 8, 8), ["centre_map"], images01=torch.rand(2, 3, 8, 8), ids=["a", "b"]
    )
    grid = cams.layer_grid(model, "0", torch.rand(1, 3, 8, 8))
    assert (
        grid == (6, 6)
        and out["centre_map"].shape == (2, 8, 8)
        and math.isclose(float(out["centre_map"].max()), 1.0, rel_tol=1e-6)
    )
