"""The whole workflow end to end on a tiny config: outputs, caching and incremental reruns."""

from __future__ import annotations

import copy
import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from camrobust.io.maps import pixel_maps
from camrobust.io.store import open_store
from tests.workflow import planned_jobs, write_config

pytestmark = pytest.mark.workflow

AGGREGATES = {
    "collect_scores": 1,
    "summarise_robustness": 1,
    "export_robustness_table": 1,
    "summarise_verdicts": 1,
    "page_landing": 1,
    "test_cam_methods": 1,
    "test_datasets": 1,
    "test_noise_types": 1,
    "test_severity_trend": 1,
    "plot_robustness_heatmap": 1,
    "plot_severity_curves": 1,
    "plot_ranking_agreement": 1,
    "plot_change_rates": 1,
    "summarise_trust": 1,
    "test_trust": 1,
    "plot_trust": 1,
    "page_trust": 1,
    "all": 1,
}


def test_summary_has_a_row_per_severity_and_pooled(finished_run: Path, tiny_config: dict) -> None:
    summary = pd.read_csv(finished_run / "results/summary/robustness.csv", dtype={"severity": str})
    expected = {
        ("tiny", "vgg", cam, noise, str(severity))
        for cam in tiny_config["cams"]
        for noise, severities in tiny_config["noises"].items()
        for severity in [*severities, "all"]
    }
    keys = set(summary[["dataset", "model", "cam", "noise", "severity"]].itertuples(index=False, name=None))
    assert keys == expected and len(summary) == len(expected)
    assert (summary["n_same"] + summary["n_changed"] + summary["n_nan"]).isin([12, 24]).all()
    for column in ["consistency", "responsiveness", "rm"]:
        values = summary[column].dropna()
        assert ((values >= 0) & (values <= 1)).all()
        missing = summary[column].isna()
        assert (summary.loc[missing, "reason"].fillna("") != "").all(), f"NaN {column} without a reason"
    pooled = summary[summary["severity"] == "all"].set_index(["cam", "noise"])
    # The CSV keeps every float exactly, and RM is the float64 product C * R
    np.testing.assert_array_equal(pooled["rm"], pooled["consistency"] * pooled["responsiveness"])


def test_scores_match_predictions_and_summary(finished_run: Path, tiny_config: dict) -> None:
    scores = pd.read_parquet(finished_run / "results/summary/scores.parquet")
    assert len(scores) == len(tiny_config["cams"]) * (2 + 1) * 12
    assert (scores["changed"] == (scores["y_clean"] != scores["y_noisy"])).all()
    assert scores["rbo"].between(0, 1).all()
    same = scores[(scores.cam == "gradcam") & (scores.noise == "gaussian_noise") & ~scores.changed]
    summary = pd.read_csv(finished_run / "results/summary/robustness.csv", dtype={"severity": str})
    row = summary[(summary.cam == "gradcam") & (summary.noise == "gaussian_noise") & (summary.severity == "all")]
    # The mean of k = len(same) values in [0, 1], summed in two orders: each within k roundings of 2^-53
    assert row["consistency"].item() == pytest.approx(same["rbo"].mean(), rel=0, abs=2 * len(same) * 2.0**-53)


def test_stores_open_with_xarray_and_named_dimensions(finished_run: Path) -> None:
    noisy = xr.open_zarr(finished_run / "results/noisy/tiny/gaussian_noise.zarr")
    assert noisy["images"].dims == ("image", "severity", "y", "x", "channel")
    assert noisy["images"].shape == (12, 2, 32, 32, 3)
    maps = xr.open_zarr(finished_run / "results/cams/tiny/vgg/fgsm/scorecam.zarr")["maps"]
    assert maps.dims == ("image", "severity", "h", "w") and maps.shape[-1] < 32  # the layer's grid
    assert float(maps.min()) >= 0
    pixels = pixel_maps(open_store(finished_run / "results/cams/tiny/vgg/fgsm/scorecam.zarr"), slice(None))
    assert pixels.shape == (12, 1, 32, 32) and 0 <= pixels.min() and pixels.max() <= 1


def test_stores_are_a_few_files_each(finished_run: Path) -> None:
    for path in (finished_run / "results").rglob("*.zarr"):
        files = [f for f in path.rglob("*") if f.is_file() and f.name != ".snakemake_timestamp"]
        assert len(files) <= 2 * len(open_store(path)) + 1, path  # per array: metadata + one shard


def test_statistics_tables_have_the_documented_columns(finished_run: Path, tiny_config: dict) -> None:
    alpha = tiny_config["statistics"]["alpha"]
    for name in ["cam_methods", "cam_pairwise", "datasets", "noise_types", "severity_trend"]:
        table = pd.read_csv(finished_run / f"results/statistics/{name}.csv")
        assert {"n", "statistic", "p", "p_corr", "effect_size", "note"} <= set(table.columns), name
        assert len(table) > 0
        tested = table["p_corr"].notna()
        assert (table.loc[tested, "significant"] == (table.loc[tested, "p_corr"] < alpha)).all(), name


def test_report_is_one_html_file_with_the_figures(finished_run: Path, tiny_config: dict) -> None:
    report = finished_run / "results/report.html"
    assert report.stat().st_size > 100_000
    text = report.read_text(errors="ignore")
    assert "robustness_heatmap.png" in text and "model_card.html" in text
    assert "pages/drilldown/tiny/vgg/fgsm/scorecam.html" in text  # one drill-down page per CAM and noise
    alpha = tiny_config["statistics"]["alpha"]
    assert f"test at alpha = {alpha}:" in text  # the caption shows the configured alpha
    for figure in (finished_run / "results/report").rglob("*.png"):
        assert figure.stat().st_size > 5_000, figure


def test_the_report_opens_on_the_headline_table_and_the_verdicts(finished_run: Path) -> None:
    """The workflow writes the landing page from the results and Snakemake shows it as the
    report's first page, also when the workflow runs with --directory elsewhere (as here)."""
    text = (finished_run / "results/report.html").read_text(errors="ignore")
    description = json.loads(re.search(r"var workflow_desc = (\".*?\");\n", text).group(1))
    assert "camrobust-landing" in description and '<table class="camrobust">' in description
    verdicts = pd.read_csv(finished_run / "results/summary/verdicts.csv")
    assert len(verdicts) == 2  # tiny / vgg under two noises
    for sentence in verdicts["verdict"]:
        assert html.escape(sentence) in description, sentence
    summary = pd.read_csv(finished_run / "results/summary/robustness.csv", dtype={"severity": str})
    pooled = summary[(summary["severity"] == "all") & summary["rm"].notna()].iloc[0]
    assert f">{pooled['rm']:.2f} " in description  # the table's RM cell, "0.42 [0.38, 0.46]" or "0.42 (no CI)"
    for exported in ("robustness.md", "robustness.tex"):
        assert f"{pooled['rm']:.2f}" in (finished_run / "results/summary" / exported).read_text()


def test_every_job_wrote_its_log(finished_run: Path) -> None:
    logs = list((finished_run / "logs").rglob("*.log"))
    assert len(logs) >= 30
    assert any("finished in" in log.read_text() for log in logs)


def test_nothing_to_do_after_a_run(finished_run: Path) -> None:
    assert planned_jobs(finished_run) == {}


def test_adding_a_cam_plans_only_its_jobs_and_the_aggregates(finished_run: Path, tiny_config: dict) -> None:
    config = copy.deepcopy(tiny_config)
    config["cams"].append("gradcampp")
    write_config(finished_run, config, "plus_cam.yaml")
    planned = planned_jobs(finished_run, config="plus_cam.yaml")
    expected = {  # gradcampp's maps came with the features: only its scores and what shows them
        "score_cams": len(config["noises"]),
        "score_faithfulness": 1,
        "score_localisation": 1,
        "plot_cam_overlays": len(config["noises"]),
        "plot_critical_difference": len(config["noises"]),
        "page_drilldown": len(config["noises"]),
        "randomise_model": 1,  # its model randomisation, and the summary and figure that show it
        "summarise_randomisation": 1,
        "plot_randomisation": 1,
        **AGGREGATES,
    }
    assert dict(planned) == expected


def test_trust_summary_and_tests(finished_run: Path, tiny_config: dict) -> None:
    """trust.csv: one row per CAM, its RM the pooled RM of its score rows, each faithfulness and
    localisation figure the mean of its per-image table, ranks 1..k per score; the tests compare
    the k CAMs per score on the images."""
    from camrobust import vocabulary
    from camrobust.analysis.robustness import robustness_table

    results = finished_run / "results"
    cams = tiny_config["cams"]
    trust = pd.read_csv(results / "summary/trust.csv")
    assert sorted(trust["cam"]) == sorted(cams) and len(trust) == len(cams)
    assert trust.set_index("cam")["baseline"].to_dict() == {cam: cam == "class_blob_map" for cam in cams}
    scores = pd.read_parquet(results / "summary/scores.parquet")
    pooled = robustness_table(scores, ["cam"], n_boot=0, min_n=tiny_config["metric"].get("min_n", 10))
    np.testing.assert_allclose(
        trust.set_index("cam")["rm"], pooled.set_index("cam")["rm"].loc[trust["cam"]], atol=1e-12
    )
    for cam in cams:
        row = trust[trust["cam"] == cam].iloc[0]
        faithfulness = pd.read_parquet(results / f"faithfulness/tiny/vgg/{cam}.parquet")
        localisation = pd.read_parquet(results / f"localisation/tiny/vgg/{cam}.parquet")
        assert len(faithfulness) == tiny_config["datasets"]["tiny"]["n_images"]
        severities = 1 + sum(len(s) for s in tiny_config["noises"].values())
        assert len(localisation) == severities * len(faithfulness)
        clean = localisation[localisation["condition"] == "clean"]
        for score in vocabulary.FAITHFULNESS:
            assert row[score.name] == pytest.approx(faithfulness[score.name].mean(), abs=1e-12)
            assert row[f"{score.name}_lo"] <= row[score.name] <= row[f"{score.name}_hi"]
            assert row[f"{score.name}_better"] == ("higher" if score.higher_is_better else "lower")
        for score in vocabulary.LOCALISATION:
            assert row[score.name] == pytest.approx(clean[score.name].mean(), abs=1e-12)
            assert 0 <= row[score.name] <= 1
    for score in (vocabulary.RM, *vocabulary.FAITHFULNESS, *vocabulary.LOCALISATION):
        ranks = trust[f"{score.name}_rank"]
        assert ranks.min() == 1 and ranks.max() <= len(cams)
        best = trust.loc[ranks == 1, score.name]
        assert (best == (trust[score.name].max() if score.higher_is_better else trust[score.name].min())).all()
    noise = pd.read_csv(results / "summary/trust_localisation.csv")
    assert len(noise) == len(cams) * (1 + sum(len(s) for s in tiny_config["noises"].values()))
    tests = pd.read_csv(results / "statistics/trust.csv", keep_default_na=False, na_values=[""])
    named = [s.name for s in (*vocabulary.FAITHFULNESS, *vocabulary.LOCALISATION)]
    assert sorted(tests["score"]) == sorted(named) and (tests["k"] == len(cams)).all()
    assert set(tests["axis"]) == {"faithfulness", "localisation"} and (tests["p"].between(0, 1)).all()
    pairs = pd.read_csv(results / "statistics/trust_pairwise.csv")
    assert len(pairs) == len(named) * len(cams) * (len(cams) - 1) // 2
    page = (results / "report/pages/trust.html").read_text()
    assert "Which CAM to trust" in page and "class blob map (baseline)" in page
    assert "results/report/pages/trust.html" in (results / "report/pages/landing.rst").read_text()
