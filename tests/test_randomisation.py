"""Cascading model randomisation: stages, seeded re-initialisation, Quantus parity, known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from camrobust.cams import cam_map_function, postprocess
from camrobust.models import SmallResNet, SmallVGG
from camrobust.sanity import cascading_randomisation, pixel_spearman, randomisation_stages, reset_stage
from camrobust.sanity.randomisation import average_ranks

SIZE = 16
RBO_ROUNDING = 1e-12
"""RBO of two identical rankings is 1 up to the float64 rounding of its geometric sums."""


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Small tensors: one torch thread (the shared conftest fixture)."""


class Tiny(nn.Module):
    """conv1 -> relu1 -> conv2 -> relu2 -> pool -> fc, each a top-level child (Quantus' layers too)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.relu2(self.conv2(self.relu1(self.conv1(x))))).flatten(1))


def grid_segments(n: int, size: int = SIZE, cell: int = 4) -> np.ndarray:
    """(n, size, size) labels of a grid of cell x cell squares."""
    rows = np.arange(size)[:, None] // cell * (size // cell) + np.arange(size)[None, :] // cell
    return np.tile(rows, (n, 1, 1)).astype(np.int32)


def inputs(n: int = 4, seed: int = 0) -> Tensor:
    return torch.randn(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


def seeded(model: nn.Module, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return model.eval()


# ------------------------------------------------------------------------------------ stages


def test_stages_are_the_top_level_blocks_from_the_logits_down() -> None:
    import torchvision

    example = inputs(1)
    assert randomisation_stages(SmallResNet(4).eval(), example) == ["fc", "layer3", "layer2", "layer1", "stem"]
    assert randomisation_stages(SmallVGG(4).eval(), example) == ["classifier", "features"]
    resnet = torchvision.models.resnet18(num_classes=3).eval()
    assert randomisation_stages(resnet, inputs(1, 1)) == ["fc", "layer4", "layer3", "layer2", "layer1", "bn1", "conv1"]
    # a wrapper whose parameters all sit in one child is read through it
    assert randomisation_stages(nn.Sequential(Tiny()).eval(), example) == ["0.fc", "0.conv2", "0.conv1"]


def test_stages_follow_the_forward_not_the_definition_order() -> None:
    class Backwards(Tiny):
        def __init__(self) -> None:
            super().__init__()
            self.unused = nn.Linear(2, 2)  # holds parameters, never called: no stage

    model = Backwards().eval()
    model.conv1, model.fc = model.fc, model.conv1  # names swapped: conv1 is now the head
    model.forward = lambda x: model.conv1(model.pool(model.relu2(model.conv2(model.relu1(model.fc(x))))).flatten(1))  # type: ignore[method-assign]
    assert randomisation_stages(model, inputs(1)) == ["conv1", "conv2", "fc"]


def test_too_few_stages_say_which_and_how_to_give_them() -> None:
    with pytest.raises(ValueError, match=r"cannot derive randomisation stages of Sequential.*found: 0.*stages=\['0'\]"):
        randomisation_stages(nn.Sequential(nn.Conv2d(3, 2, 1)).eval(), inputs(1))


def test_named_stages_are_checked() -> None:
    model, example = Tiny().eval(), inputs(1)
    assert randomisation_stages(model, example, ["fc", "conv1"]) == ["fc", "conv1"]
    with pytest.raises(
        ValueError, match=r"'conv3' is not a module of Tiny; did you mean conv2, conv1.*top-level modules: conv1"
    ):
        randomisation_stages(model, example, ["fc", "conv3"])
    with pytest.raises(ValueError, match=r"'relu1' holds no parameters"):
        randomisation_stages(model, example, ["relu1"])
    with pytest.raises(ValueError, match=r"\['fc'\] given more than once"):
        randomisation_stages(model, example, ["fc", "fc"])


# --------------------------------------------------------------------------- re-initialisation


def test_reset_stage_is_seeded_by_seed_and_path_and_keeps_the_global_random_state() -> None:
    a, b, c = SmallResNet(4).eval(), SmallResNet(4).eval(), SmallResNet(4).eval()
    state = torch.random.get_rng_state()
    reset_stage(a.layer3, "layer3", 7)
    assert torch.equal(torch.random.get_rng_state(), state)
    reset_stage(b.layer3, "layer3", 7)
    reset_stage(c.layer3, "layer3", 8)
    weights = [m.layer3.conv1.weight for m in (a, b, c)]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])
    # the path keys the draw too: the same module reset as another stage differs
    reset_stage(c.layer3, "layer2", 7)
    assert not torch.equal(weights[0], c.layer3.conv1.weight)
    # BatchNorm's reset: gamma 1, beta 0, running statistics 0 and 1
    assert torch.equal(a.layer3.bn1.weight, torch.ones(64)) and torch.equal(a.layer3.bn1.running_var, torch.ones(64))


def test_parameters_without_reset_parameters_are_drawn_with_their_own_scale() -> None:
    class Embedding(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.table = nn.Parameter(3.0 + 0.5 * torch.randn(400, generator=torch.Generator().manual_seed(0)))

    stage = Embedding()
    trained = stage.table.detach().clone()
    reset_stage(stage, "embedding", 0)
    assert not torch.equal(stage.table, trained)
    drawn = stage.table.detach()
    assert float(drawn.mean()) == pytest.approx(3.0, abs=0.1)
    assert float(drawn.std()) == pytest.approx(0.5, rel=0.15)


# ------------------------------------------------------------------------------ Quantus parity


def test_pixel_spearman_matches_scipy() -> None:
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    a, b = rng.random((3, 8, 8)), rng.random((3, 8, 8))
    a[0, :4] = 0.5  # ties
    b[2] = 1.0  # constant
    expected = [spearmanr(x.ravel(), y.ravel())[0] for x, y in zip(a[:2], b[:2], strict=True)]
    rho = pixel_spearman(a, b)
    np.testing.assert_allclose(rho[:2], expected, rtol=0, atol=1e-12)
    assert np.isnan(rho[2])


def test_average_ranks_are_scipys_with_ties() -> None:
    from scipy.stats import rankdata

    rng = np.random.default_rng(1)
    values = rng.integers(0, 5, size=(4, 50)).astype(np.float64)  # many ties per row
    values[3] = 2.0  # one tie across the whole row
    np.testing.assert_array_equal(average_ranks(values), rankdata(values, axis=1))


def test_matches_quantus_mprt_top_down_spearman() -> None:
    """Quantus 0.6's MPRT (top_down, correlation_spearman, its default abs + normalise_by_max)
    on a tiny model: the same layers in the same order, the same cumulative randomisation and,
    given Quantus' draws (torch.manual_seed(seed + 1) before each layer's reset_parameters), the
    same Spearman correlations.

    Tolerance: both sides rank the same maps. Quantus divides them by their maximum and takes
    |.|; on float64 maps in [0, 1] that is strictly increasing (distinct float32 values differ by
    at least 2^-24 relatively, float64 division errs by 2^-53), so the ranks are identical and
    only the float64 sums of the rank correlation over n = 256 pixels differ, each by at most
    about n 2^-53 relatively: |difference| <= 3 n 2^-53 (about 9e-14)."""
    quantus = pytest.importorskip("quantus")
    model, x, n_pixels = seeded(Tiny()), inputs(5), SIZE * SIZE
    map_function = cam_map_function("gradcam", "relu2")

    def explain(model: nn.Module, inputs: np.ndarray, targets: np.ndarray, **_: object) -> np.ndarray:
        batch = torch.as_tensor(inputs, dtype=torch.float32)
        raw = map_function(model.eval(), batch, torch.as_tensor(targets))
        return postprocess(raw, batch.shape[-2:]).double().numpy()[:, None]

    def quantus_draws(stage: nn.Module, _path: str, seed: int) -> None:
        torch.manual_seed(seed + 1)
        stage.reset_parameters()  # type: ignore[operator]

    with torch.no_grad():
        predicted = model(x).argmax(1)
    mprt = quantus.MPRT(layer_order="top_down", seed=42, disable_warnings=True, display_progressbar=False)
    theirs = mprt(
        model=model, x_batch=x.numpy(), y_batch=predicted.numpy(), a_batch=None, explain_func=explain, device="cpu"
    )
    ours = cascading_randomisation(model, x, grid_segments(5), map_function, seed=42, reinitialise=quantus_draws)
    assert list(theirs) == ["original", *ours.stages] == ["original", "fc", "conv2", "conv1"]
    np.testing.assert_array_equal(theirs["original"], 1.0)
    tolerance = 3 * n_pixels * 2.0**-53
    for k, stage in enumerate(ours.stages):
        difference = np.abs(np.asarray(theirs[stage]) - ours.scores["pixel_spearman"][:, k]).max()
        assert difference <= tolerance, f"{stage}: |Quantus - camrobust| = {difference:.2e} > {tolerance:.2e}"
    assert torch.equal(ours.targets, predicted)


# ------------------------------------------------------------------------------ known answers


def test_a_cam_that_reads_only_earlier_layers_survives_their_randomisation_exactly() -> None:
    """EigenCAM reads only the target layer's activations: randomising the layers after it
    (fc, layer3 for target layer2) leaves the map bitwise unchanged, similarity 1; from layer2
    on the activations change and so does the map."""
    model, x = seeded(SmallResNet(4)), inputs(4)
    result = cascading_randomisation(model, x, grid_segments(4), cam_map_function("eigencam", "layer2"))
    assert result.stages == ("fc", "layer3", "layer2", "layer1", "stem")
    np.testing.assert_array_equal(result.scores["l1"][:, :2], 0.0)  # the same maps, bitwise
    for name in ("pixel_spearman", "ssim", "spearman"):
        np.testing.assert_array_equal(result.scores[name][:, :2], 1.0, err_msg=name)
    np.testing.assert_allclose(result.scores["rbo"][:, :2], 1.0, rtol=0, atol=RBO_ROUNDING)
    assert (result.scores["pixel_spearman"][:, 2:] < 0.99).all()
    assert (result.scores["l1"][:, 2:] > 0).all()


def test_gradcam_changes_when_the_logits_are_randomised() -> None:
    """GradCAM's channel weights are the fc row of the class over the pooled grid: a new fc gives
    new weights and another map at the first stage already."""
    model, x = seeded(SmallResNet(4)), inputs(4)
    result = cascading_randomisation(model, x, grid_segments(4), cam_map_function("gradcam", "layer3"))
    assert (result.scores["l1"][:, 0] > 0.05).all()
    assert (result.scores["rbo"][:, 0] < 0.9).all()
    # a map the ReLU of the post-processing makes constant has no pixel ranking: NaN, with a note
    spearman, notes = result.scores["pixel_spearman"][:, 0], result.scores["note"][:, 0]
    assert (spearman[~np.isnan(spearman)] < 0.9).all()
    assert all("constant map" in note for note in notes[np.isnan(spearman)])


def test_a_model_free_map_is_the_reference_with_similarity_one() -> None:
    def centre(model: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
        yy, xx = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
        bump = 200.0 - ((yy - 7.3) ** 2 + (xx - 8.1) ** 2).float()
        return bump.expand(len(inputs), SIZE, SIZE)

    result = cascading_randomisation(seeded(SmallResNet(4)), inputs(3), grid_segments(3), centre)
    for name in ("pixel_spearman", "ssim"):
        np.testing.assert_array_equal(result.scores[name], 1.0, err_msg=name)
    np.testing.assert_allclose(result.scores["rbo"], 1.0, rtol=0, atol=RBO_ROUNDING)


def test_model_family_cams_run_on_the_randomised_copy_and_the_model_is_untouched() -> None:
    model = seeded(SmallResNet(4))
    before = {name: value.clone() for name, value in model.state_dict().items()}
    result = cascading_randomisation(
        model, inputs(2), grid_segments(2), cam_map_function("ablationcam", "layer3"), stages=["fc", "layer3"]
    )
    assert result.scores["rbo"].shape == (2, 2) and np.isfinite(result.scores["rbo"]).all()
    assert (result.scores["l1"] > 0).all()
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())


def test_results_do_not_depend_on_the_job_split() -> None:
    model, x, segments = seeded(SmallResNet(4)), inputs(4), grid_segments(4)
    map_function = cam_map_function("gradcam", "layer3")
    whole = cascading_randomisation(model, x, segments, map_function, seed=3)
    halves = [cascading_randomisation(model, x[i : i + 2], segments[i : i + 2], map_function, seed=3) for i in (0, 2)]
    for name in ("rbo", "pixel_spearman", "ssim"):
        np.testing.assert_array_equal(whole.scores[name], np.concatenate([h.scores[name] for h in halves]))


def test_long_table_has_one_row_per_image_and_stage() -> None:
    result = cascading_randomisation(
        seeded(SmallResNet(4)), inputs(2), grid_segments(2), cam_map_function("gradcam", "layer3")
    )
    table = result.columns(["a", "b"])
    assert list(table["image_id"]) == ["a"] * 5 + ["b"] * 5
    assert list(table["stage_index"]) == [1, 2, 3, 4, 5] * 2
    assert list(table["stage"][:5]) == ["fc", "layer3", "layer2", "layer1", "stem"]
    assert table["rbo"].shape == (10,) and table["note"].dtype.kind == "U"
    with pytest.raises(ValueError, match="3 ids for 2 images"):
        result.columns(["a", "b", "c"])


def test_training_mode_is_refused() -> None:
    with pytest.raises(ValueError, match=r"model: in training mode"):
        cascading_randomisation(SmallResNet(4), inputs(1), grid_segments(1), cam_map_function("gradcam", "layer3"))


def test_map_functions_take_built_ins_and_plugins_and_refuse_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    from camrobust import plugins

    model, x = seeded(SmallResNet(4)), inputs(2)
    targets = torch.tensor([0, 3])
    monkeypatch.setitem(
        plugins._REGISTERED, "mean_map", plugins.CamPlugin("mean_map", lambda a, g: a.mean(1), "features")
    )
    monkeypatch.setitem(
        plugins._REGISTERED,
        "ones",
        plugins.CamPlugin("ones", lambda m, layer, x, t: torch.ones(len(x), 4, 4), "model"),
    )
    gradcam = cam_map_function("gradcam", "layer3", batch_size=1)(model, x, targets)
    assert gradcam.shape == (2, 4, 4)
    assert torch.equal(cam_map_function("ones", "layer3")(model, x, targets), torch.ones(2, 4, 4))
    assert cam_map_function("mean_map", "layer3")(model, x, targets).shape == (2, 4, 4)
    with pytest.raises(ValueError, match=r"unknown CAM method 'nocam'"):
        cam_map_function("nocam", "layer3")
    with pytest.raises(ValueError, match=r"target_layer: give a module path string"):
        cam_map_function("gradcam", model.layer3)  # type: ignore[arg-type]
