"""Incremental reruns, resuming after a kill, and determinism of the workflow's tables."""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from camrobust.config import model_datasets, noise_severities, validate_config
from camrobust.registry import ATTACKS, BASELINE_CAMS, MODEL_CAMS
from tests.workflow import REPO, planned_jobs, snakemake, workflow_command, write_config

pytestmark = pytest.mark.workflow

STATISTICS = {"test_cam_methods", "test_datasets", "test_noise_types", "test_severity_trend"}
SUMMARY = {"collect_scores", "summarise_robustness", "plot_robustness_heatmap", "plot_severity_curves"}
SUMMARY |= {"plot_ranking_agreement", "plot_change_rates", "all"} | STATISTICS
SUMMARY |= {"export_robustness_table", "summarise_verdicts", "page_landing"}
TRUST = {"summarise_trust", "test_trust", "plot_trust", "page_trust"}
SUMMARY |= TRUST


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
        "score_localisation",
    } <= (SUMMARY | {"plot_cam_overlays", "plot_critical_difference", "plot_noise_examples", "page_drilldown"})
    assert planned["plot_noise_examples"] == 1  # the dataset's figure gains a row
    # localisation covers every noise: each CAM's table gains the noise; faithfulness (clean) does not rerun
    assert planned["score_localisation"] == len(config["cams"]) and "score_faithfulness" not in planned


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
    assert set(planned) == STATISTICS | {"plot_critical_difference", "page_landing", "test_trust", "page_trust", "all"}
    assert planned["plot_critical_difference"] == len(config["noises"])


def test_the_sensitivity_analysis_plans_only_its_own_jobs(finished_run: Path, tiny_config: dict) -> None:
    """Turning metric.sensitivity on adds its jobs (and the landing page that mentions it); the main
    results never rerun because of it, and turning it off again plans nothing."""
    config = copy.deepcopy(tiny_config)
    config["metric"]["sensitivity"] = {"rbo_p": [0.8, 0.9], "segmentation": ["quickshift", "slic"]}
    planned = plan_with(finished_run, config, "sensitivity.yaml")
    assert dict(planned) == {
        "segment_sensitivity": 1,  # slic; quickshift is the main segmentation, read from its store
        "score_sensitivity": len(config["noises"]),
        "summarise_sensitivity": 1,
        "plot_sensitivity": 1,
        "page_sensitivity": 1,
        "page_landing": 1,
        "all": 1,
    }
    config["metric"]["sensitivity"] = {"rbo_p": [0.9], "segmentation": ["quickshift"]}  # the main setting only
    assert plan_with(finished_run, config, "sensitivity_main.yaml") == {}


def reversed_keys(value: Any) -> Any:
    """``value`` with the keys of every mapping, at any depth, in reverse order."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(value)}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


def defaults_written_out(config: dict) -> dict:
    """``config`` as validate_config fills it (every schema default, and each dataset's
    segmentation), with every noise entry in its long form ``{severities: [...]}``."""
    filled = validate_config(config)
    filled["noises"] = {name: {"severities": noise_severities(entry)} for name, entry in filled["noises"].items()}
    return filled


def comments_changed(source: str) -> str:
    """YAML ``source`` with other comments, and a blank line between any two of its lines."""
    lines = [re.sub(r"\s+#.*$", "", line) for line in source.splitlines() if not line.lstrip().startswith("#")]
    return "# the same settings\n" + "".join(f"\n{line}  # line {i}\n" for i, line in enumerate(lines) if line.strip())


NUMBER_SPELLINGS = {  # PyYAML reads 9e-1 and 1e-1 as strings; the schema says number
    "rbo_p: 0.9\n": "rbo_p: 9e-1\n",
    "topk: 0.2\n": "topk: 2.0e-1\n",
    "ci: 0.95\n": "ci: 0.950\n",
    "alpha: 0.1\n": "alpha: 1e-1\n",
    "n_images: 12\n": "n_images: 12.0\n",
    "epochs: 2\n": "epochs: 2.0\n",
}


def numbers_respelled(text: str) -> str:
    for number, spelling in NUMBER_SPELLINGS.items():
        assert text.count(number) == 1, number
        text = text.replace(number, spelling)
    return text


def test_the_same_settings_in_other_forms_plan_nothing(finished_run: Path, tiny_config: dict) -> None:
    """Key order, defaults written out, comments, number spellings and JSON: nothing to do."""
    written_out = yaml.safe_dump(defaults_written_out(tiny_config), sort_keys=False)
    forms = {
        "reversed_keys.yaml": yaml.safe_dump(reversed_keys(tiny_config), sort_keys=False),
        "defaults_written_out.yaml": written_out,
        "comments_changed.yaml": comments_changed((REPO / "tests/configs/tiny.yaml").read_text()),
        "numbers_respelled.yaml": numbers_respelled(written_out),
        "as_json.json": json.dumps(tiny_config),
    }
    settings = defaults_written_out(tiny_config)
    assert list(reversed_keys(tiny_config)["datasets"]["tiny"]) == list(reversed(tiny_config["datasets"]["tiny"]))
    assert settings["datasets"]["tiny"]["segmentation"] == settings["segmentation"] == {"method": "quickshift"}
    for name, text in forms.items():
        assert defaults_written_out(yaml.safe_load(text)) == settings, name
        (finished_run / name).write_text(text)
    plans = {name: planned_jobs(finished_run, config=name) for name in forms}
    assert plans == {name: Counter() for name in forms}


def run_jobs(config: dict) -> Counter[str]:
    """Rule -> jobs of a whole run of the validated ``config`` (built-in CAMs, trained models)."""
    experiments = [(d, m) for m in config["models"] for d in model_datasets(config, m)]
    datasets, noises, cams = len(config["datasets"]), config["noises"], config["cams"]
    per_noise = len(experiments) * len(noises)
    conditions = len(experiments) * (1 + len(noises))
    return Counter(
        {
            "stage_evaluation_images": datasets,
            "stage_training_images": len({d for d, m in experiments if config["models"][m]["kind"] == "trained"}),
            "prepare_model": len(experiments),
            "perturb_images": datasets * len(set(noises) - set(ATTACKS)),
            "attack_images": len(experiments) * len(set(noises) & set(ATTACKS)),
            "predict_images": conditions,
            "extract_features": conditions,
            "model_cams": conditions * len(set(cams) & set(MODEL_CAMS)),
            "edge_maps": conditions * ("edge_map" in cams),
            "segment_images": datasets,
            "score_cams": per_noise * len(cams),
            "plot_robustness_heatmap": len(experiments),
            "plot_severity_curves": len(experiments),
            "plot_cam_overlays": per_noise,
            "plot_critical_difference": per_noise,
            "page_drilldown": per_noise,
            "plot_noise_examples": datasets,
            "model_card": len(experiments),
            "plot_region_counts": 1,
            "stage_masks": len({d for d, _ in experiments if config["datasets"][d]["kind"] == "shapes"}),
            "score_faithfulness": len(experiments) * len(cams),
            "score_localisation": len(experiments) * len(cams),
            **dict.fromkeys(SUMMARY, 1),
        }
    ) + randomisation_jobs(config, len(experiments))


def randomisation_jobs(config: dict, experiments: int) -> Counter[str]:
    """The model randomisation's jobs: one per (dataset, model) and CAM, its summary and figure."""
    if not config["randomisation"]["enabled"]:
        return Counter()
    cams = [cam for cam in config["cams"] if cam not in BASELINE_CAMS]
    return Counter({"randomise_model": experiments * len(cams), "summarise_randomisation": 1, "plot_randomisation": 1})


# The jobs that read no model: changing the training split reruns everything else.
EVALUATION_DATA = {"stage_evaluation_images", "segment_images", "perturb_images", "plot_noise_examples"}
EVALUATION_DATA |= {"plot_region_counts", "stage_masks"}


def test_changing_a_dataset_value_reruns_what_reads_it(finished_run: Path, tiny_config: dict) -> None:
    whole = run_jobs(validate_config(tiny_config))

    assert whole.total() == 64  # with 3 randomisation jobs, their summary and figure
    more_images = copy.deepcopy(tiny_config)
    more_images["datasets"]["tiny"]["n_images"] = 16
    assert plan_with(finished_run, more_images, "more_images.yaml") == whole
    more_training = copy.deepcopy(tiny_config)
    more_training["datasets"]["tiny"]["n_train"] = 300
    planned = plan_with(finished_run, more_training, "more_training.yaml")
    assert planned == Counter({rule: n for rule, n in whole.items() if rule not in EVALUATION_DATA})


TABLES = ("results/summary/robustness.csv", "results/summary/scores.parquet")
GATED_CAM = {"gatedcam": {"function": "gated_plugins:gated_norm_cam", "uses": "model"}}


def _run_until_the_gated_cam_starts(workdir: Path, gate: Path, env: dict[str, str]) -> None:
    """Run the workflow until a job of the gated CAM has started (the plugin's event), then SIGKILL
    Snakemake and every job it started."""
    log = workdir / "killed_run.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            workflow_command(workdir, *TABLES), stdout=output, stderr=output, start_new_session=True, env=env
        )
    try:
        while not (gate / "started").exists():
            assert process.poll() is None, (
                f"the workflow ended before the gated CAM started:\n{log.read_text()[-4000:]}"
            )
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_resume_after_kill_gives_byte_identical_tables(finished_run: Path, tiny_config: dict, tmp_path: Path) -> None:
    """Killed inside a CAM job, resumed: the tables of the CAMs it shares with the tiny run are those of that run."""
    gate = tmp_path / "gate"
    gate.mkdir()
    python_path = os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": python_path, "CAMROBUST_TEST_GATE": str(gate)}
    config = {**copy.deepcopy(tiny_config), "cam_plugins": GATED_CAM}
    config["cams"] = [*tiny_config["cams"], *GATED_CAM]
    write_config(tmp_path, config)
    _run_until_the_gated_cam_starts(tmp_path, gate, env)
    assert not (tmp_path / TABLES[0]).exists()
    (gate / "open").touch()
    snakemake(tmp_path, "--unlock", env=env)  # a SIGKILLed Snakemake cannot release its directory lock
    snakemake(tmp_path, *TABLES, env=env)
    assert not list((tmp_path / "results").rglob(".*.partial-*")), "a half-written store was left behind"

    shared = sorted(path.relative_to(finished_run) for path in (finished_run / "results/scores").rglob("*.parquet"))
    assert len(shared) == len(tiny_config["noises"]) * len(tiny_config["cams"])
    for table in shared:
        assert (tmp_path / table).read_bytes() == (finished_run / table).read_bytes(), table
    resumed, whole = (
        pd.read_csv(run / TABLES[0], dtype=str, keep_default_na=False) for run in (tmp_path, finished_run)
    )
    assert set(resumed["cam"]) == set(config["cams"])
    pd.testing.assert_frame_equal(resumed[resumed["cam"].isin(tiny_config["cams"])].reset_index(drop=True), whole)
