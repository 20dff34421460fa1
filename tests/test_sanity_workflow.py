"""The sanity checks in the workflow on the tiny config: model randomisation and the explanation
attack beside uniform noise, their rows in the score and robustness tables, and their reruns."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from camrobust import vocabulary
from camrobust.analysis.summary import KEEPS_PREDICTION, read_summary
from camrobust.io.store import open_store
from camrobust.registry import BASELINE_CAMS
from tests.workflow import planned_jobs, snakemake, write_config

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def sanity_config(tiny_config: dict) -> dict:
    config = copy.deepcopy(tiny_config)
    config["noises"] = {"uniform_noise": [1, 5], "explanation_attack": [1, 5]}
    config["explanation_attack"] = {"steps": 3}
    config["randomisation"] = {"n_images": 6}
    return config


@pytest.fixture(scope="module")
def sanity_run(tmp_path_factory: pytest.TempPathFactory, sanity_config: dict) -> Path:
    workdir = tmp_path_factory.mktemp("sanity_run")
    write_config(workdir, sanity_config)
    snakemake(workdir)
    return workdir


def test_every_accepted_image_keeps_its_class(sanity_run: Path, sanity_config: dict) -> None:
    clean = np.asarray(open_store(sanity_run / "results/predictions/tiny/vgg/clean.zarr")["pred"][:, 0])
    attacked = [cam for cam in sanity_config["cams"] if cam not in BASELINE_CAMS]
    assert attacked == ["gradcam", "eigencam", "scorecam"]  # a baseline map reads no model to attack
    for cam in attacked:
        store = open_store(sanity_run / f"results/worst_case/tiny/vgg/{cam}.zarr")
        assert (np.asarray(store["pred"]) == clean[:, None]).all(), cam
        assert store.attrs["source_cam"] == ("gradcam" if cam == "scorecam" else cam)
    scores = pd.read_parquet(sanity_run / "results/summary/scores.parquet")
    attack = scores[scores["noise"] == "explanation_attack"]
    assert len(attack) == 12 * 2 * len(attacked) and not attack["changed"].any()


def test_robustness_has_only_consistency_for_the_attack(sanity_run: Path) -> None:
    summary = read_summary(sanity_run / "results/summary/robustness.csv")
    attack = summary[summary["noise"] == "explanation_attack"]
    assert len(attack) == 3 * 3  # 3 CAMs x (severities 1, 5 and all)
    assert attack["responsiveness"].isna().all() and attack["rm"].isna().all()
    assert attack["consistency"].between(0, 1).all()
    assert attack["reason"].str.startswith(KEEPS_PREDICTION).all()


def test_worst_case_table_compares_with_uniform_noise_of_the_same_budget(sanity_run: Path) -> None:
    table = pd.read_csv(sanity_run / "results/summary/worst_case.csv", keep_default_na=True)
    summary = read_summary(sanity_run / "results/summary/robustness.csv")
    assert table["cam"].tolist() == ["eigencam", "eigencam", "gradcam", "gradcam", "scorecam", "scorecam"]
    assert table["budget"].tolist() == [1.0, 16.0] * 3
    assert table["transfer"].tolist() == [False, False, False, False, True, True]
    for row in table.itertuples():
        same = summary[(summary["cam"] == row.cam) & (summary["severity"] == str(row.severity))]
        worst = same.loc[same["noise"] == "explanation_attack", "consistency"].item()
        uniform = same.loc[same["noise"] == "uniform_noise", "consistency"].item()
        assert getattr(row, vocabulary.WORST_CASE_CONSISTENCY.name) == pytest.approx(worst, rel=1e-12)
        assert row.uniform_consistency == pytest.approx(uniform, rel=1e-12)
        assert row.gap == pytest.approx(uniform - worst, rel=1e-9, abs=1e-12)
    assert (sanity_run / "results/report/worst_case.png").stat().st_size > 0


def test_randomisation_table_and_figure(sanity_run: Path) -> None:
    table = pd.read_csv(sanity_run / "results/summary/randomisation.csv", keep_default_na=True)
    assert table[["cam", "stage"]].to_numpy().tolist() == [
        [cam, stage] for cam in ("eigencam", "gradcam", "scorecam") for stage in ("classifier", "features")
    ]
    assert table["full_randomisation"].tolist() == [False, True] * 3
    assert (table["n"] == 6).all()
    # EigenCAM reads only the activations of `features`: randomising the classifier leaves it as it was
    eigen = table[(table["cam"] == "eigencam") & (table["stage"] == "classifier")]
    assert eigen[["rbo", "pixel_spearman", "ssim"]].to_numpy() == pytest.approx(1.0, abs=1e-6)
    # 6 images < metric.min_n = 10: estimates without intervals, and the reason
    assert table["rbo_lo"].isna().all() and table["reason"].str.contains("images_rbo = 6 < 10").all()
    assert (sanity_run / "results/report/randomisation.png").stat().st_size > 0
    assert (sanity_run / "results/randomisation/tiny/vgg/gradcam.parquet").exists()


def test_adding_a_cam_plans_only_its_sanity_jobs(sanity_run: Path, sanity_config: dict) -> None:
    config = copy.deepcopy(sanity_config)
    config["cams"].append("gradcampp")
    write_config(sanity_run, config, "plus_cam.yaml")
    planned = planned_jobs(sanity_run, config="plus_cam.yaml")
    assert planned["explanation_attack"] == 1 and planned["randomise_model"] == 1
    assert planned["score_cams"] == 2  # uniform noise and the attack
    assert not {"transfer_explanation_attack", "extract_features", "model_cams", "perturb_images"} & set(planned)
    assert planned["summarise_worst_case"] == planned["summarise_randomisation"] == 1


def test_trust_summary_holds_model_dependence_and_worst_case(sanity_run: Path) -> None:
    trust = pd.read_csv(sanity_run / "results/summary/trust.csv").set_index("cam")
    randomisation = pd.read_csv(sanity_run / "results/summary/randomisation.csv")
    last = randomisation[randomisation["full_randomisation"]].set_index("cam")
    summary = read_summary(sanity_run / "results/summary/robustness.csv")
    pooled = summary[summary["severity"] == "all"]
    for cam in ("eigencam", "gradcam", "scorecam"):
        assert trust.loc[cam, vocabulary.RANDOMISATION_RBO.name] == last.loc[cam, "rbo"]
        assert trust.loc[cam, vocabulary.RANDOMISATION_SSIM.name] == last.loc[cam, "ssim"]
        worst = pooled[(pooled["cam"] == cam) & (pooled["noise"] == "explanation_attack")]["consistency"].item()
        assert trust.loc[cam, vocabulary.WORST_CASE_CONSISTENCY.name] == pytest.approx(worst, rel=1e-12)
        # the pooled RM is that of uniform noise alone: the attack's rows are not a sample of noise
        uniform = pooled[(pooled["cam"] == cam) & (pooled["noise"] == "uniform_noise")]["rm"].item()
        assert trust.loc[cam, vocabulary.RM.name] == pytest.approx(uniform, rel=1e-12, nan_ok=True)
    assert trust.loc["class_blob_map", vocabulary.RANDOMISATION_RBO.name] == 1.0
    assert trust.loc["class_blob_map", "model_dependence_rank"] == 4
