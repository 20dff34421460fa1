"""The workflow on user data: an ImageFolder tree and a user checkpoint (resnet18 state dict)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from PIL import Image

from tests.workflow import planned_jobs, snakemake, write_config

pytestmark = pytest.mark.workflow

CLASSES = ["cat", "dog", "fox", "owl"]


def make_image_folder(root: Path, per_class: int = 3) -> None:
    """Class folders of 80 px PNGs in mixed modes: RGB, greyscale and RGBA."""
    rng = np.random.default_rng(0)
    modes = ["RGB", "L", "RGBA"]
    for label, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            pixels = rng.integers(0, 256, size=(80, 80, 3), dtype=np.uint8)
            pixels[20:60, 20:60] = 60 * label
            Image.fromarray(pixels).convert(modes[index % 3]).save(root / name / f"{index}.png")


def test_image_folder_and_user_checkpoint_run_end_to_end(tmp_path: Path) -> None:
    make_image_folder(tmp_path / "images")
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(num_classes=len(CLASSES)).state_dict(), tmp_path / "resnet18.pt")
    config = {
        "device": "cpu",
        "datasets": {
            "folder": {"kind": "imagefolder", "root": str(tmp_path / "images"), "n_images": 8, "image_size": 64}
        },
        "models": {
            "mine": {"kind": "checkpoint", "arch": "resnet18", "path": str(tmp_path / "resnet18.pt"), "num_classes": 4}
        },
        "cams": ["gradcam", "layercam"],
        "noises": {"gaussian_noise": [3]},
        "metric": {"n_bootstrap": 20},
        "faithfulness": {"steps": 3, "road_percentages": [50]},
    }
    write_config(tmp_path, config)
    snakemake(tmp_path, "results/summary/robustness.csv")

    card = (tmp_path / "results/models/folder/mine/card.json").read_text()
    assert '"source": "checkpoint"' in card and '"target_layer": "layer4"' in card
    summary = pd.read_csv(tmp_path / "results/summary/robustness.csv", dtype={"severity": str})
    assert set(summary["cam"]) == {"gradcam", "layercam"}
    assert set(summary["severity"]) == {"3", "all"}
    assert (summary["n_same"] + summary["n_changed"] + summary["n_nan"] == 8).all()
    scores = pd.read_parquet(tmp_path / "results/summary/scores.parquet")
    assert scores["label"].isin(range(4)).all() and len(scores) == 2 * 8

    # no masks: faithfulness but no localisation; adding a mask folder plans only localisation
    snakemake(tmp_path, "results/summary/trust.csv", "results/statistics/trust.csv")
    trust = pd.read_csv(tmp_path / "results/summary/trust.csv")
    assert sorted(trust["cam"]) == ["gradcam", "layercam"] and "pointing_game" not in trust.columns
    assert trust["deletion_auc"].between(0, 1).all()
    for image in (tmp_path / "images").rglob("*.png"):
        mask = np.zeros((80, 80), dtype=np.uint8)
        mask[20:60, 20:60] = 255  # the square each image carries
        target = tmp_path / "masks" / image.relative_to(tmp_path / "images")
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask).save(target)
    config["datasets"]["folder"]["masks"] = str(tmp_path / "masks")
    write_config(tmp_path, config, "with_masks.yaml")
    planned = planned_jobs(
        tmp_path, "results/summary/trust.csv", "results/statistics/trust.csv", config="with_masks.yaml"
    )
    assert dict(planned) == {
        "stage_masks": 1,
        "score_localisation": 2,
        "summarise_trust": 1,
        "test_trust": 1,
    }
