"""Bring-your-own CAM and noise plugins in the workflow: added to a finished run of the tiny config."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pandas as pd
import pytest

from camrobust.io.store import open_store
from tests.workflow import REPO, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.workflow

SUMMARY = "results/summary/robustness.csv"

PLUGINS = {
    "cam_plugins": {
        "poscam": {"function": "byo_plugins:positive_gradient_cam", "uses": "features"},
        "normcam": {"function": "byo_plugins:activation_norm_cam", "uses": "model"},
    },
    "noise_plugins": {"salt": {"function": "byo_plugins:salt", "params": [0.05, 0.2]}},
}


def test_plugins_added_to_a_finished_run(tmp_path: Path, tiny_config: dict) -> None:
    """Up to the robustness table: the dry run plans only the plugins' jobs and the aggregates."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}
    write_config(tmp_path, tiny_config)
    snakemake(tmp_path, SUMMARY, env=env)

    config = {**copy.deepcopy(tiny_config), **PLUGINS}
    config["cams"] += ["poscam", "normcam"]
    config["noises"]["salt"] = [1, 2]
    write_config(tmp_path, config, "plugins.yaml")
    planned = planned_jobs(tmp_path, SUMMARY, config="plugins.yaml", env=env)
    old_noises, conditions = len(tiny_config["noises"]), 2 + len(tiny_config["noises"])
    assert dict(planned) == {
        "perturb_images": 1,
        "predict_images": 1,
        "extract_features": 1,  # salt, with the built-in gradient maps
        "gradient_cams": conditions,  # poscam everywhere
        "model_cams": conditions + 1,  # normcam everywhere, scorecam on salt
        "score_cams": len(config["cams"]) + 2 * old_noises,
        "collect_scores": 1,
        "summarise_robustness": 1,
    }

    snakemake(tmp_path, SUMMARY, config="plugins.yaml", env=env)
    summary = pd.read_csv(tmp_path / SUMMARY, dtype={"severity": str})
    rows = set(summary[["cam", "noise", "severity"]].itertuples(index=False, name=None))
    for cam in config["cams"]:
        for noise, severities in config["noises"].items():
            assert {(cam, noise, str(s)) for s in [*severities, "all"]} <= rows, (cam, noise)
    plugin_rows = summary[summary["cam"].isin(["poscam", "normcam"]) | (summary["noise"] == "salt")]
    assert plugin_rows["rm"].notna().any() and plugin_rows["rm"].dropna().between(0, 1).all()
    salt = open_store(tmp_path / "results/noisy/tiny/salt.zarr")["images"]
    clean = open_store(tmp_path / "results/data/tiny/eval.zarr")["images"][...]
    was_white = (clean == 255).all(-1)
    for severity, fraction in enumerate(PLUGINS["noise_plugins"]["salt"]["params"]):
        whitened = (salt[:, severity] == 255).all(-1)[~was_white].mean()
        assert abs(whitened - fraction) < 0.02, (severity, whitened)  # 12 * 32 * 32 pixels: sd < 0.004
    normcam = open_store(tmp_path / "results/cams/tiny/vgg/clean/normcam.zarr")["maps"]
    assert normcam.shape[:2] == (12, 1) and normcam.shape[-1] < 32 and float(normcam[...].max()) > 0
