"""Every noise type at severity 3, end to end on the tiny dataset: summary and noise figure."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr
from PIL import Image

from camrobust import registry
from tests.workflow import snakemake, write_config

pytestmark = pytest.mark.workflow


def test_every_noise_at_severity_3_runs_end_to_end(tmp_path: Path, tiny_config: dict) -> None:
    config = copy.deepcopy(tiny_config)
    config["cams"] = ["gradcam"]
    noises = list(registry.NOISES)  # the explanation attack included: its own stage per (dataset, model, CAM)
    config["noises"] = {name: [3] for name in noises}
    write_config(tmp_path, config)
    figure = "results/report/tiny/noise_examples.png"
    snakemake(tmp_path, "results/summary/robustness.csv", figure, timeout=2400)  # ~100 small jobs

    summary = pd.read_csv(tmp_path / "results/summary/robustness.csv", dtype={"severity": str})
    assert set(summary["noise"]) == set(noises)
    assert set(summary["severity"]) == {"3", "all"}
    assert (summary["n_same"] + summary["n_changed"] + summary["n_nan"] == 12).all()  # the 12 eval images
    for name in registry.PIXEL_NOISES:
        stored = np.asarray(zarr.open_group(tmp_path / f"results/noisy/tiny/{name}.zarr", mode="r")["images"])
        assert stored.shape == (12, 1, 32, 32, 3) and stored.dtype == np.uint8
    # the figure: a row per pixel noise (22) and 6 columns, each cell at least 32 px tall
    height, width = np.asarray(Image.open(tmp_path / figure)).shape[:2]
    assert height > 22 * 32 and width > 6 * 32
