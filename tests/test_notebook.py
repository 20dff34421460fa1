"""The notebook API: camrobust.evaluate and camrobust.load_model against the workflow's tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import camrobust
from camrobust import vocabulary
from camrobust.io.images import read_images
from camrobust.io.store import open_store
from tests import byo_plugins

GREY = {"mean": [0.5], "std": [0.25]}


@pytest.fixture(scope="module")
def registered_plugins() -> None:
    camrobust.register_cam("positive_gradient", byo_plugins.positive_gradient_cam, uses="features")
    camrobust.register_cam("activation_norm", byo_plugins.activation_norm_cam, uses="model")


def grey_images(n: int = 6, size: int = 16) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_evaluate_with_plugins_scores_an_unchanged_image_as_identical(
    registered_plugins: None, one_torch_thread: None
) -> None:
    """Salt at fraction 0 returns each image unchanged: every CAM pair is identical (RBO 1, SSIM 1,
    L1 0), no prediction changes, so C = 1 and R is NaN with its reason."""
    cams = ["gradcam", "positive_gradient", "activation_norm"]
    result = camrobust.evaluate(
        byo_plugins.grey_cnn(),
        grey_images(),
        target_layer="0",
        cams=cams,
        noises={"salt": [1, 2], "gaussian_noise": [1]},
        noise_plugins={"salt": {"function": "tests.byo_plugins:salt", "params": [0.0, 0.5]}},
        preprocessing=GREY,
        n_bootstrap=20,
        batch_size=4,
        progress=False,
    )
    scores = result.scores
    assert len(scores) == 6 * 3 * len(cams)
    assert set(scores["cam"]) == set(cams) and (scores["label"] == -1).all()
    unchanged = scores[(scores["noise"] == "salt") & (scores["severity"] == 1)]
    # RBO_ext sums m + 1 terms, each a product of at most three rounded factors (2^-53 each)
    assert (np.abs(unchanged["rbo"] - 1) <= 4 * (unchanged["n_regions"] + 1) * 2.0**-53).all()
    assert (unchanged["ssim"] == 1).all() and (unchanged["l1"] == 0).all()
    assert not unchanged["changed"].any()
    rows = result.summary.set_index(["cam", "noise", "severity"])
    for cam in cams:
        row = rows.loc[(cam, "salt", "1")]
        # the mean of 6 such values: 6 more roundings
        bound = (4 * (unchanged["n_regions"].max() + 1) + 6) * 2.0**-53
        assert row["consistency"] == pytest.approx(1, rel=0, abs=bound)
        assert np.isnan(row["responsiveness"])
        assert row["reason"] == "no class-changing pairs; images_same = 6 < 10"  # 6 images: below min_n, no CI
        assert np.isnan(row["consistency_lo"])
    assert result.segmentation == {
        "method": "quickshift",
        "params": {"kernel_size": 1.0, "max_dist": 6.0, "ratio": 0.2},
    }
    assert result.n_regions.tolist() == scores.loc[unchanged.index, "n_regions"].iloc[:6].tolist()


def test_the_iou_column_follows_topk_into_the_summary(one_torch_thread: None) -> None:
    """metric.topk = 0.1: the scores and the summary name the top-k IoU iou_top10."""
    result = camrobust.evaluate(
        byo_plugins.grey_cnn(),
        grey_images(4),
        target_layer="0",
        cams=["gradcam"],
        noises={"gaussian_noise": [2]},
        preprocessing=GREY,
        topk=0.1,
        n_bootstrap=0,
        progress=False,
    )
    for table in (result.scores, result.summary):
        assert "iou_top10" in table.columns and "iou_top20" not in table.columns
    assert result.summary["iou_top10"].notna().all()


def test_evaluate_names_what_it_cannot_run() -> None:
    model, images = byo_plugins.grey_cnn(), grey_images()
    common = {"target_layer": "0", "preprocessing": GREY, "progress": False}
    with pytest.raises(ValueError, match=r"cams: 'mycam' is neither a built-in method .* nor registered"):
        camrobust.evaluate(model, images, cams=["mycam"], noises={"gaussian_noise": [1]}, **common)
    with pytest.raises(ValueError, match=r"noises: 'fog2' is neither a built-in noise"):
        camrobust.evaluate(model, images, cams=["gradcam"], noises={"fog2": [1]}, **common)
    with pytest.raises(ValueError, match=r"images: expected a uint8 array \(N, H, W, 3\), got float32"):
        camrobust.evaluate(model, images.astype(np.float32), cams=["gradcam"], noises={"gaussian_noise": [1]}, **common)
    with pytest.raises(ValueError, match=r"target: 'predicted', or 'label' with labels given"):
        camrobust.evaluate(model, images, cams=["gradcam"], noises={"gaussian_noise": [1]}, target="label", **common)


@pytest.mark.workflow
def test_evaluate_equals_the_workflow_tables(finished_run: Path, tiny_config: dict) -> None:
    """The tiny run's staged images and trained model, through camrobust.load_model and
    camrobust.evaluate with the config's seed, CAMs, noises and batch size."""
    results = finished_run / "results"
    model, card = camrobust.load_model(results / "models/tiny/vgg/card.json", results / "models/tiny/vgg/weights.pt")
    clean = read_images(results / "data/tiny/eval.zarr")
    result = camrobust.evaluate(
        model,
        clean.images,
        target_layer=card.target_layer,
        cams=tiny_config["cams"],
        noises=tiny_config["noises"],
        labels=clean.labels,
        ids=clean.ids,
        preprocessing=card,
        n_bootstrap=tiny_config["metric"]["n_bootstrap"],
        seed=tiny_config["seed"],
        batch_size=tiny_config["batch_size"],
        dataset="tiny",
        model_name="vgg",
        progress=False,
        trust=True,
        masks=clean.masks,
    )
    pd.testing.assert_frame_equal(result.scores, pd.read_parquet(results / "summary/scores.parquet"), check_exact=True)

    # the trust tables: the workflow's per-image tables, summary, localisation under noise and tests
    faithfulness = pd.concat(
        [pd.read_parquet(results / f"faithfulness/tiny/vgg/{cam}.parquet") for cam in tiny_config["cams"]],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(result.faithfulness, faithfulness, check_exact=False, rtol=1e-6, atol=1e-7)
    trust_csv = pd.read_csv(results / "summary/trust.csv")
    summary = result.trust_summary()
    # the workflow joins the model randomisation (on by default), which the notebook does not run
    extra = [column for column in trust_csv.columns if column not in summary.columns]
    assert extra and all(column.startswith(("randomisation_", "model_dependence_")) for column in extra)
    trust_csv = trust_csv.drop(columns=extra)
    assert list(summary.columns) == list(trust_csv.columns)
    numbers = trust_csv.select_dtypes("number").columns
    np.testing.assert_allclose(summary[numbers].to_numpy(float), trust_csv[numbers].to_numpy(float), atol=1e-6)
    noise = pd.read_csv(results / "summary/trust_localisation.csv")
    values = ["severity", *(f"{s.name}{end}" for s in vocabulary.LOCALISATION for end in ("", "_lo", "_hi"))]
    np.testing.assert_allclose(
        result.localisation_under_noise()[values].to_numpy(float), noise[values].to_numpy(float), atol=1e-6
    )
    tests, _ = result.trust_tests(alpha=tiny_config["statistics"]["alpha"])
    stored = pd.read_csv(results / "statistics/trust.csv", keep_default_na=False, na_values=[""])
    ordered = tests.sort_values(["dataset", "model", "axis", "score"], ignore_index=True)
    assert ordered["best"].tolist() == stored["best"].tolist()
    np.testing.assert_allclose(ordered["statistic"].to_numpy(float), stored["statistic"].to_numpy(float), atol=1e-9)
    assert isinstance(result.trust_figure(), Figure)

    segments = open_store(results / "segments/tiny.zarr")
    assert result.segmentation["params"] == dict(segments.attrs["params"])
    np.testing.assert_array_equal(result.n_regions, segments["n_regions"][...])

    workflow = pd.read_csv(results / "summary/robustness.csv", dtype={"severity": str, "reason": str})
    assert list(result.summary.columns) == list(workflow.columns)
    numeric = workflow.select_dtypes("number").columns
    assert len(numeric) == len(workflow.columns) - 6  # all but dataset, model, cam, noise, severity, reason
    np.testing.assert_allclose(
        result.summary[numeric].to_numpy(float), workflow[numeric].to_numpy(float), rtol=0, atol=1e-9
    )
    text = ["dataset", "model", "cam", "noise", "severity", "reason"]
    pd.testing.assert_frame_equal(result.summary[text], workflow[text].fillna(""))

    alpha = tiny_config["statistics"]["alpha"]
    for name, table in result.statistics(alpha).items():
        stored = pd.read_csv(results / f"statistics/{name}.csv", dtype={"significant": str}, keep_default_na=False)
        columns = ["n", "k", "statistic", "p", "p_corr", "effect_size"]
        stored_numbers = stored[columns].replace("", np.nan).to_numpy(float)
        np.testing.assert_array_equal(table[columns].to_numpy(float), stored_numbers, err_msg=name)
        assert ["" if pd.isna(v) else str(v) for v in table["significant"]] == stored["significant"].tolist()

    heatmap = result.robustness_heatmap()
    pooled = result.summary[result.summary["severity"] == "all"]
    rm_texts = {t.get_text().removesuffix("*") for t in heatmap.axes[2].texts}  # "*": no CI below min_n
    assert {f"{value:.2f}" for value in pooled["rm"].dropna()} <= rm_texts
    for figure in (result.severity_curves(), result.critical_difference("gaussian_noise"), result.change_rates()):
        assert isinstance(figure, Figure) and figure.axes
