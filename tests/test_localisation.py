"""Localisation scores: by hand, with ties, and against Quantus 0.6 on maps without ties."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch import Tensor

from camrobust import vocabulary
from camrobust.localisation import dilate, energy_pointing_game, pointing_game, relevance_rank_accuracy

U32 = 2.0**-24
SCORES = (pointing_game, energy_pointing_game, relevance_rank_accuracy)


def blobs(n: int, size: int, seed: int = 0) -> Tensor:
    """Random rectangles as object masks (N, size, size)."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size), dtype=bool)
    for mask in masks:
        top, left = rng.integers(0, size // 2, 2)
        height, width = rng.integers(2, size // 2, 2)
        mask[top : top + height, left : left + width] = True
    return torch.from_numpy(masks)


def tie_free(n: int, size: int, seed: int = 1) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    values = torch.stack([torch.randperm(size * size, generator=generator) for _ in range(n)]).float()
    return ((values + 1) / (size * size)).view(n, size, size)


def test_a_map_equal_to_the_mask_scores_one_and_its_complement_zero() -> None:
    masks = blobs(5, 16)
    maps = masks.float()
    for score in SCORES:
        assert torch.equal(score(maps, masks), torch.ones(5)), score.__name__
        assert torch.equal(score(1 - maps, masks), torch.zeros(5)), score.__name__


def test_by_hand() -> None:
    maps = torch.tensor([[[0.9, 0.1, 0.0], [0.2, 0.8, 0.3], [0.0, 0.4, 0.5]]])
    masks = torch.tensor([[[False, False, False], [False, True, True], [False, True, False]]])
    assert pointing_game(maps, masks).item() == 0.0  # the maximum 0.9 lies outside
    assert pointing_game(maps, masks, tolerance=1.5).item() == 1.0  # (0, 0) is sqrt(2) from (1, 1)
    assert pointing_game(maps, masks, tolerance=1.0).item() == 0.0
    total = 0.9 + 0.1 + 0.2 + 0.8 + 0.3 + 0.4 + 0.5
    # float64 sums of 9 float32 values, rounded to float32: one ulp
    assert abs(energy_pointing_game(maps, masks).item() - 1.5 / total) <= 2 * U32
    # K = 3: the top 3 are 0.9, 0.8, 0.5, one of them (0.8) in the mask
    assert relevance_rank_accuracy(maps, masks).item() == pytest.approx(1 / 3, abs=U32)


def test_ties_count_as_a_random_pick_among_them() -> None:
    masks = blobs(4, 12)
    flat = torch.ones(4, 12, 12)
    share = masks.flatten(1).float().mean(1)
    assert torch.allclose(pointing_game(flat, masks), share, atol=U32)
    assert torch.allclose(relevance_rank_accuracy(flat, masks), share, atol=U32)
    two_peaks = torch.zeros(1, 4, 4)
    two_peaks[0, 0, 0] = two_peaks[0, 3, 3] = 1.0
    corner = torch.zeros(1, 4, 4, dtype=torch.bool)
    corner[0, 3, 3] = True
    assert pointing_game(two_peaks, corner).item() == 0.5
    # K = 1, t = 1: no pixel above, two tied of which one inside -> 1/2
    assert relevance_rank_accuracy(two_peaks, corner).item() == 0.5


def test_undefined_scores_are_nan() -> None:
    maps, masks = tie_free(3, 8), blobs(3, 8)
    masks[0] = False
    maps[1, 2, 2] = math.nan
    for score in SCORES:
        values = score(maps, masks)
        assert torch.isnan(values[:2]).all() and torch.isfinite(values[2]), score.__name__
    assert torch.isnan(energy_pointing_game(torch.zeros(1, 8, 8), blobs(1, 8)))


def test_dilation_is_a_disc() -> None:
    point = torch.zeros(1, 9, 9, dtype=torch.bool)
    point[0, 4, 4] = True
    grown = dilate(point, 2.0)[0]
    ys, xs = torch.meshgrid(torch.arange(9), torch.arange(9), indexing="ij")
    assert torch.equal(grown, (ys - 4) ** 2 + (xs - 4) ** 2 <= 4)
    with pytest.raises(ValueError, match="tolerance"):
        dilate(point, -1.0)


def test_bad_inputs_name_the_argument() -> None:
    with pytest.raises(ValueError, match="masks"):
        pointing_game(torch.rand(2, 4, 4), torch.ones(2, 4, 4))
    with pytest.raises(ValueError, match="maps"):
        energy_pointing_game(torch.rand(4, 4), torch.ones(4, 4, dtype=torch.bool))


def quantus_scores(maps: Tensor, masks: Tensor) -> dict[str, np.ndarray]:
    import quantus

    a = maps[:, None].numpy()
    s = masks[:, None].numpy().astype(np.float32)
    x = np.zeros((len(maps), 3, *maps.shape[1:]), dtype=np.float32)
    y = np.zeros(len(maps), dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metrics = {
            "pointing_game": quantus.PointingGame(disable_warnings=True),
            "energy_pointing_game": quantus.AttributionLocalisation(disable_warnings=True),
            "relevance_rank_accuracy": quantus.RelevanceRankAccuracy(disable_warnings=True),
        }
        return {
            name: np.asarray(metric(model=None, x_batch=x, y_batch=y, a_batch=a, s_batch=s), dtype=np.float64)
            for name, metric in metrics.items()
        }


@pytest.mark.parametrize("size", [16, 37])
def test_equal_quantus(size: int) -> None:
    maps, masks = tie_free(8, size), blobs(8, size, seed=size)
    theirs = quantus_scores(maps, masks)
    assert np.array_equal(pointing_game(maps, masks).numpy(), theirs["pointing_game"])
    # the same counts; ours is returned in the maps' float32: one rounding of the ratio
    rra = relevance_rank_accuracy(maps, masks).numpy()
    assert np.abs(rra - theirs["relevance_rank_accuracy"]).max() <= U32
    # Quantus: maps / max (one rounding each), float32 pairwise sums (log2 P roundings), + 1e-9;
    # ours: float64 sums, one rounding to float32. Relative: (log2 P + 3) u plus 1e-9 / total.
    tolerance = (math.log2(size * size) + 3) * U32 + 1e-9 / float(maps.flatten(1).sum(1).min() / maps.max())
    ours = energy_pointing_game(maps, masks).numpy()
    assert np.abs(ours - theirs["energy_pointing_game"]).max() <= tolerance


def test_scores_have_their_directions() -> None:
    assert [(s.name, s.higher_is_better) for s in vocabulary.LOCALISATION] == [
        ("pointing_game", True),
        ("energy_pointing_game", True),
        ("relevance_rank_accuracy", True),
    ]
    assert [axis.name for axis in vocabulary.AXES] == [
        "robustness",
        "faithfulness",
        "localisation",
        "model_dependence",
        "worst_case",
    ]
    assert vocabulary.axis_of("randomisation_rbo").name == "model_dependence"
    assert not vocabulary.axis_of("randomisation_rbo").scores[0].higher_is_better
    assert vocabulary.axis_of("worst_case_consistency").scores[0].higher_is_better
    assert {vocabulary.axis_of(s.name).name for s in vocabulary.LOCALISATION} == {"localisation"}
