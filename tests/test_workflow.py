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


def test_scores_match_predictions_and_summary(finished_run: Path) -> None:
    scores = pd.read_parquet(finished_run / "results/summary/scores.parquet")
    assert len(scores) == 3 * (2 + 1) * 12
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
        "plot_cam_overlays": len(config["noises"]),
        "plot_critical_difference": len(config["noises"]),
        "page_drilldown": len(config["noises"]),
        "randomise_model": 1,  # its model randomisation, and the summary and figure that show it
        "summarise_randomisation": 1,
        "plot_randomisation": 1,
        **AGGREGATES,
    }
    assert dict(planned) == expected
