"""Adding a built-in CAM method takes its module and its registry line, nothing else: a copy of
the package with a throw-away method is checked in a subprocess (the source tree is not edited)."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from tests.package_copy import add_cam, copy_package, environment_with_copy, run_with_copy
from tests.workflow import snakemake, write_config

CHECK = textwrap.dedent(
    """
    import sys

    import numpy as np
    import torch
    from torch import nn

    import camrobust
    from camrobust import cams, config, registry

    assert registry.cam("throwaway_cam").family == "gradient"
    assert "throwaway_cam" in cams.GRADIENT_METHODS and "throwaway_cam" in cams.CAM_METHODS
    assert "throwaway_cam" not in cams.MODEL_METHODS

    base = {
        "datasets": {"tiny": {"kind": "shapes", "variant": "plain", "n_images": 4, "image_size": 32}},
        "models": {"vgg": {"kind": "trained", "arch": "small_vgg"}},
        "noises": {"gaussian_noise": [1]},
    }
    assert config.validate_config({**base, "cams": ["gradcam", "throwaway_cam"]})["cams"][-1] == "throwaway_cam"
    try:
        config.validate_config({**base, "cams": ["throwaway_cam2"]})
    except config.ConfigError:
        pass
    else:
        raise AssertionError("a name that is not in the registry was accepted")

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)
    ).eval()
    images = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    result = camrobust.evaluate(
        model,
        images,
        target_layer="1",
        cams=["layercam", "throwaway_cam"],
        noises={"gaussian_noise": [1, 3]},
        n_bootstrap=10,
        batch_size=4,
        progress=False,
    )
    assert sys.modules["camrobust.cams.throwaway_cam"].CALLS, "the throw-away method never ran"
    scores = result.scores.set_index(["noise", "severity", "image_id"])
    twin, layercam = scores[scores["cam"] == "throwaway_cam"], scores[scores["cam"] == "layercam"]
    assert len(twin) == 4 * 2
    assert twin.drop(columns="cam").equals(layercam.drop(columns="cam")), "LayerCAM's formula, LayerCAM's scores"
    maps = cams.compute_cams(model, "1", torch.rand(2, 3, 16, 16), ["layercam", "throwaway_cam"])
    assert torch.equal(maps["throwaway_cam"], maps["layercam"])
    print("ok")
    """
)


def test_a_new_builtin_cam_is_one_module_and_one_registry_line(tmp_path: Path) -> None:
    source_root = copy_package(tmp_path)
    add_cam(source_root, "throwaway_cam")
    assert run_with_copy(source_root, CHECK).stdout.strip().endswith("ok")


@pytest.mark.workflow
def test_a_new_builtin_cam_runs_through_the_workflow(tmp_path: Path, tiny_config: dict) -> None:
    """The throw-away method of a copied package, named in `cams:`, goes through every stage of the
    tiny config: its scores equal LayerCAM's (the same formula) row for row."""
    source_root = copy_package(tmp_path / "package")
    add_cam(source_root, "throwaway_cam")
    workdir = tmp_path / "run"
    workdir.mkdir()
    config = {**copy.deepcopy(tiny_config), "cams": ["layercam", "throwaway_cam"], "noises": {"gaussian_noise": [1, 5]}}
    write_config(workdir, config)
    snakemake(workdir, "results/summary/robustness.csv", env=environment_with_copy(source_root))
    scores = pd.read_parquet(workdir / "results/summary/scores.parquet")
    twin = scores[scores["cam"] == "throwaway_cam"].drop(columns="cam").reset_index(drop=True)
    layercam = scores[scores["cam"] == "layercam"].drop(columns="cam").reset_index(drop=True)
    assert len(twin) == tiny_config["datasets"]["tiny"]["n_images"] * 2
    pd.testing.assert_frame_equal(twin, layercam)
    summary = pd.read_csv(workdir / "results/summary/robustness.csv")
    assert set(summary["cam"]) == {"layercam", "throwaway_cam"}
