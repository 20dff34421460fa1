"""Stage functions run without Snakemake: store layouts, and results independent of batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from camrobust import models, pipeline
from camrobust.store import read_array


@pytest.fixture(scope="module")
def stage_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A staged shapes dataset, a small untrained CNN with its card, and a model-free noise store."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("stages")
    paths = {name: root / name for name in ["eval.zarr", "noisy.zarr", "card.json", "weights.pt"]}
    spec = {"kind": "shapes", "variant": "cluttered", "n_images": 10, "image_size": 32}
    pipeline.stage_images(spec, "eval", 0, paths["eval.zarr"])
    model = models.build_model("small_vgg", 6, seed=0).eval()
    torch.save(model.state_dict(), paths["weights.pt"])
    models.ModelCard(
        arch="small_vgg", source="trained", num_classes=6, target_layer=models.DEFAULT_TARGET_LAYERS["small_vgg"],
        input_size=32, mean=models.SMALL_CNN_MEAN, std=models.SMALL_CNN_STD, class_names=[str(i) for i in range(6)],
    ).to_json(paths["card.json"])
    pipeline.perturb_images(paths["eval.zarr"], "gaussian_noise", [2, 5], None, 0, "tiny", paths["noisy.zarr"])
    return paths


def test_noisy_store_holds_every_severity_and_is_reproducible(stage_inputs: dict[str, Path], tmp_path: Path) -> None:
    images = read_array(stage_inputs["noisy.zarr"], "images")
    assert images.shape == (10, 2, 32, 32, 3) and images.dtype == np.uint8
    assert read_array(stage_inputs["noisy.zarr"], "severity").tolist() == [2, 5]
    clean = read_array(stage_inputs["eval.zarr"], "images").astype(float)
    residual = [np.std(images[:, s] - clean) for s in range(2)]
    assert residual[0] < residual[1]
    again = tmp_path / "again.zarr"
    pipeline.perturb_images(stage_inputs["eval.zarr"], "gaussian_noise", [5], None, 0, "tiny", again)
    assert np.array_equal(read_array(again, "images")[:, 0], images[:, 1])


# Another batch size may make the model's float32 kernels sum in another order. A captured value is
# at the end of L = 5 layers (small_vgg: 4 convolutions and the linear head) of sums of at most
# K = 9 * 64 = 576 products; reordering a K-term sum moves it by at most K * 2^-24 of the sum of its
# terms' magnitudes (Higham, Accuracy and Stability of Numerical Algorithms, 3.1), taken here at
# the scale of the largest value: FEATURE_ERROR relative to max |x|.
FEATURE_ERROR = 5 * 576 * 2.0**-24


@pytest.mark.parametrize("method", ["gradcam", "eigencam", "ablationcam"])
def test_maps_do_not_depend_on_the_batch_size(stage_inputs: dict[str, Path], tmp_path: Path, method: str) -> None:
    """Batches of 32 and 3 images: the same predictions and targets, features equal up to
    FEATURE_ERROR, and identical maps (below)."""
    features = {}
    for batch_size in (32, 3):
        features[batch_size] = tmp_path / f"features-{batch_size}.zarr"
        pipeline.extract_features(
            stage_inputs["noisy.zarr"], stage_inputs["eval.zarr"], stage_inputs["card.json"],
            stage_inputs["weights.pt"], "predicted", batch_size, "cpu", features[batch_size],
        )
    for name in ("pred", "target"):
        assert np.array_equal(read_array(features[32], name), read_array(features[3], name))
    assert read_array(features[32], "pred").shape == (10, 2)
    for name in ("logits", "activations", "gradients"):
        values, other = read_array(features[32], name), read_array(features[3], name)
        assert np.abs(values - other).max() <= FEATURE_ERROR * np.abs(values).max(), name
    maps = []
    for batch_size in (32, 3):
        cams = tmp_path / f"{method}-{batch_size}.zarr"
        if method == "ablationcam":
            # image by image: one clean forward, then forwards of 7 of its channels (the last of 1):
            # the same operations on the same values, whichever images share the batch
            pipeline.model_cam_maps(
                stage_inputs["noisy.zarr"], features[batch_size], stage_inputs["card.json"],
                stage_inputs["weights.pt"], method, batch_size, 7, "cpu", cams,
            )
        else:
            # from the same features: each map comes from its image's own slices, reduced over
            # channels and cells in the same order whatever the number of images (one thread)
            pipeline.gradient_cam_maps(features[32], method, (32, 32), cams, batch_size=batch_size)
        maps.append(read_array(cams, "maps"))
    assert maps[0].shape == (10, 2, 32, 32)
    assert np.array_equal(maps[0], maps[1])


def test_overlay_selection_mixes_changed_and_kept_images() -> None:
    changed = np.array([False, True, False, True, True, False])
    assert pipeline.overlay_selection(changed, 4).tolist() == [0, 1, 2, 3]
    assert pipeline.overlay_selection(np.array([True, True, True, False]), 3).tolist() == [0, 1, 3]
    assert pipeline.overlay_selection(np.array([False, False]), 4).tolist() == [0, 1]
