"""Every torchvision architecture builds, its default target layer resolves to the intended
stage, and the CAM engine gives finite maps of the right shape on it (parity with pytorch-grad-cam
there: test_cams_zoo_parity.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

from camrobust import netsplit
from camrobust.cams import (
    EXPLAINING_METHODS,
    GRADIENT_METHODS,
    MODEL_METHODS,
    Probe,
    TargetLayer,
    capture,
    compute_cams,
    model_cams,
    resolve_target,
    split_target,
    token_reshape,
)
from camrobust.models import DEFAULT_TARGET_LAYERS
from camrobust.registry import TORCHVISION_ARCHS
from tests.zoo import zoo_model

# (input size, channels, grid) of the default target layer's maps; ViT is built for its input size.
EXPECTED_MAPS: dict[str, tuple[int, int, tuple[int, int]]] = {
    "resnet18": (64, 512, (2, 2)),
    "resnet50": (64, 2048, (2, 2)),
    "vgg16": (64, 512, (4, 4)),
    "densenet121": (64, 1024, (2, 2)),
    "mobilenet_v3_large": (64, 960, (2, 2)),
    "efficientnet_b0": (64, 1280, (2, 2)),
    "convnext_tiny": (64, 768, (2, 2)),
    "vit_b_16": (48, 768, (3, 3)),
    "swin_t": (64, 768, (2, 2)),
}


@pytest.fixture(autouse=True)
def two_threads() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def _images(size: int) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))


def _assert_maps(maps: dict[str, torch.Tensor], methods: tuple[str, ...] | list[str], size: int) -> None:
    assert list(maps) == list(methods)
    for name, cam in maps.items():
        assert cam.shape == (2, size, size) and cam.dtype == torch.float32, name
        assert torch.isfinite(cam).all(), name
        assert cam.min() >= 0 and cam.max() <= 1, name


def _assert_some_map_varies(maps: dict[str, torch.Tensor]) -> None:
    """A min-max normalised map peaks at range / (range + 1e-7), above 0.99 unless its raw range is
    below 1e-5, i.e. flat; at least one method must not be flat."""
    assert max(float(cam.amax()) for cam in maps.values()) > 0.99


def test_every_listed_arch_has_a_default_target_layer() -> None:
    assert set(EXPECTED_MAPS) == set(TORCHVISION_ARCHS)
    assert set(DEFAULT_TARGET_LAYERS) == {"small_vgg", "small_resnet", *TORCHVISION_ARCHS}


@pytest.mark.parametrize("arch", TORCHVISION_ARCHS)
def test_default_target_layer_and_gradient_cams(arch: str) -> None:
    size, channels, grid = EXPECTED_MAPS[arch]
    model = zoo_model(arch, size)
    layer = resolve_target(model, DEFAULT_TARGET_LAYERS[arch])
    x = _images(size)
    reshape = token_reshape(model, size)
    assert (reshape is not None) == (arch in ("vit_b_16", "swin_t"))
    captured = capture(model, layer, x, reshape=reshape)
    assert captured.logits.shape == (2, 10)
    assert captured.activations.shape == (2, channels, *grid)
    assert captured.gradients.shape == captured.activations.shape
    maps = compute_cams(model, layer, x, list(GRADIENT_METHODS), batch_size=2, reshape=reshape)
    _assert_maps(maps, tuple(GRADIENT_METHODS), size)
    _assert_some_map_varies(maps)


@pytest.mark.slow
def test_every_cam_method_runs_on_resnet18() -> None:
    model = zoo_model("resnet18", 64)
    maps = compute_cams(model, DEFAULT_TARGET_LAYERS["resnet18"], _images(64), list(EXPLAINING_METHODS), batch_size=512)
    _assert_maps(maps, EXPLAINING_METHODS, 64)
    _assert_some_map_varies({name: maps[name] for name in MODEL_METHODS})


@pytest.mark.slow
@pytest.mark.parametrize("arch", [arch for arch in TORCHVISION_ARCHS if arch != "resnet18"])
def test_scorecam_on_every_arch(arch: str) -> None:
    """ScoreCAM takes one forward per image and distinct channel mask (768-2048 channels here), so
    it runs at 32 px: the same default layer and code path as the gradient methods above."""
    size = 32
    model = zoo_model(arch, size)
    maps = compute_cams(
        model,
        DEFAULT_TARGET_LAYERS[arch],
        _images(size),
        ["scorecam"],
        batch_size=512,
        reshape=token_reshape(model, size),
    )
    _assert_maps(maps, ("scorecam",), size)


@pytest.mark.slow
@pytest.mark.parametrize("arch", TORCHVISION_ARCHS)
def test_ablationcam_tail_equals_whole_model(arch: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """AblationCAM on the network tail (netsplit) against the whole model per channel, forced by
    making the split fail, at one channel per forward: then both paths run the same operations on
    the same values in the same shapes (head = the model's layers up to the target, tail = the
    rest), so every ablated score and every map is bitwise equal: tolerance 0. Other channel batch
    sizes move scores by rounding only (tests/test_cams.py, test_cams_tail.py, in float64)."""
    size = 32
    model = zoo_model(arch, size)
    x, layer, reshape = _images(size)[:1], DEFAULT_TARGET_LAYERS[arch], token_reshape(model, size)
    recorded: list[torch.Tensor] = []
    target_scores = Probe.target_scores

    def record(probe: Probe, n_rows: int, logits_of: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        recorded.append(target_scores(probe, n_rows, logits_of))
        return recorded[-1]

    def unsplittable(*_: object) -> netsplit.Split:
        raise netsplit.Unsplittable("forced by the test")

    monkeypatch.setattr(Probe, "target_scores", record)
    on_tail = model_cams(model, layer, x, None, ["ablationcam"], 1, reshape)["ablationcam"]
    monkeypatch.setattr(netsplit, "split_at", unsplittable)
    whole = model_cams(model, layer, x, None, ["ablationcam"], 1, reshape)["ablationcam"]
    assert len(recorded) == 2 and recorded[0].shape == (EXPECTED_MAPS[arch][1],)
    assert torch.equal(recorded[0], recorded[1])
    assert torch.equal(on_tail, whole)
    _assert_maps({"ablationcam": torch.cat([on_tail, whole])}, ("ablationcam",), size)


def test_target_layer_strings() -> None:
    model = zoo_model("densenet121", 32)
    norm5 = model.get_submodule("features.norm5")
    assert resolve_target(model, DEFAULT_TARGET_LAYERS["densenet121"]) == TargetLayer(norm5, "relu")
    assert resolve_target(model, "features.norm5") == TargetLayer(norm5, None)
    assert split_target("relu(features.norm5)") == ("features.norm5", "relu")
    assert split_target("layer4") == ("layer4", None)
    with pytest.raises(ValueError, match=r"post-activation 'gelu' unknown; valid: \['relu'\]"):
        resolve_target(model, "gelu(features.norm5)")
    with pytest.raises(ValueError, match=r"'features.norm6' is not a module .* did you mean features.norm5"):
        resolve_target(model, "relu(features.norm6)")
