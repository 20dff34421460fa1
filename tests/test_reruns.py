"""Incremental reruns, resuming after a kill, and determinism of the workflow's tables."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from camrobust.registry import MODEL_CAMS
from tests.workflow import planned_jobs, snakemake, workflow_command, write_config

pytestmark = pytest.mark.workflow

STATISTICS = {"test_cam_methods", "test_datasets", "test_noise_types", "test_severity_trend"}
SUMMARY = {"collect_scores", "summarise_robustness", "plot_robustness_heatmap", "plot_severity_curves"}
SUMMARY |= {"plot_ranking_agreement", "plot_change_rates", "all"} | STATISTICS


def plan_with(finished_run: Path, config: dict, name: str) -> Counter[str]:
    write_config(finished_run, config, name)
    return planned_jobs(finished_run, config=name)


def assert_one_noise_recomputed(planned: Counter[str], cams: list[str]) -> None:
    """One noise's images, predictions, features (with the gradient-family maps), model-pass CAMs,
    scores (one per method) and overlays; nothing else of it."""
    assert planned["perturb_images"] == 1
    assert planned["predict_images"] == 1
    assert planned["extract_features"] == 1
    assert "gradient_cams" not in planned
    assert planned["model_cams"] == len(set(cams) & set(MODEL_CAMS))
    assert planned["score_cams"] == len(cams)
    assert planned["plot_cam_overlays"] == 1


def test_adding_a_noise_recomputes_no_cam_of_another_noise(finished_run: Path, tiny_config: dict) -> None:
    config = copy.deepcopy(tiny_config)
    config["noises"]["impulse_noise"] = [3]
    planned = plan_with(finished_run, config, "plus_noise.yaml")
    assert_one_noise_recomputed(planned, config["cams"])
    assert "prepare_model" not in planned and "segment_images" not in planned
    assert set(planned) - {
        "perturb_images",
        "predict_images",
        "extract_features",
        "model_cams",
        "score_cams",
    } <= (SUMMARY | {"plot_cam_overlays", "plot_critical_difference", "plot_noise_examples"})
    assert planned["plot_noise_examples"] == 1  # the dataset's figure gains a row


def test_changing_one_severity_list_touches_only_that_noise(finished_run: Path, tiny_config: dict) -> None:
    config = copy.deepcopy(tiny_config)
    config["noises"]["gaussian_noise"] = [1, 3, 5]
    planned = plan_with(finished_run, config, "gaussian_severities.yaml")
    assert_one_noise_recomputed(planned, config["cams"])
    assert "attack_images" not in planned


def test_changing_alpha_reruns_only_the_tests_and_the_diagrams_that_use_it(
    finished_run: Path, tiny_config: dict
) -> None:
    config = copy.deepcopy(tiny_config)
    config["statistics"] = {"alpha": 0.01}
    planned = plan_with(finished_run, config, "alpha.yaml")
    assert set(planned) == STATISTICS | {"plot_critical_difference", "all"}
    assert planned["plot_critical_difference"] == len(config["noises"])


TABLES = ("results/summary/robustness.csv", "results/summary/scores.parquet")


def _run_and_kill_during_cams(workdir: Path) -> None:
    command = workflow_command(workdir, *TABLES)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    cams = workdir / "results" / "cams"
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if cams.exists() and any(cams.rglob("*.zarr")):
                break
            time.sleep(0.2)
        assert process.poll() is None, "the workflow finished before the CAM stage could be interrupted"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_resume_after_kill_gives_byte_identical_tables(finished_run: Path, tiny_config: dict, tmp_path: Path) -> None:
    write_config(tmp_path, tiny_config)
    _run_and_kill_during_cams(tmp_path)
    assert not (tmp_path / "results/summary/robustness.csv").exists()
    snakemake(tmp_path, "--unlock")  # a SIGKILLed Snakemake cannot release its directory lock
    snakemake(tmp_path, *TABLES)
    assert not list((tmp_path / "results").rglob(".*.partial-*")), "a half-written store was left behind"
    for table in TABLES:
        assert (tmp_path / table).read_bytes() == (finished_run / table).read_bytes(), table
