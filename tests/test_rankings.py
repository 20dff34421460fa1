"""CAM rankings compared: Kendall's tau-b, the like-with-like agreement, the sensitivity to the
metric's settings, the chosen example pairs and the tables for papers; hand-built score tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from camrobust.analysis import agreement, examples, sensitivity, tables
from camrobust.analysis.settings import Setting, settings
from camrobust.analysis.totals import kendall_tau

CAMS = ("ablationcam", "eigencam", "gradcam", "layercam")


def test_kendall_tau_b_equals_scipy_with_ties_nan_and_leading_axes() -> None:
    rng = np.random.default_rng(0)
    first = rng.integers(0, 4, size=(20, 6)).astype(float)
    second = rng.integers(0, 4, size=(20, 6)).astype(float)
    first[3, 2] = np.nan
    taus = kendall_tau(first, second)
    for row in range(20):
        keep = np.isfinite(first[row]) & np.isfinite(second[row])
        expected = scipy_stats.kendalltau(first[row, keep], second[row, keep]).statistic
        assert taus[row] == pytest.approx(expected, nan_ok=True)
    assert kendall_tau(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])) == -1.0
    assert np.isnan(kendall_tau(np.array([1.0, 1.0]), np.array([1.0, 2.0])))


def score_rows(values: dict[str, dict[str, float]], *, n_images: int = 20, seed: int = 0) -> pd.DataFrame:
    """One (dataset, model), two noises, one severity: images 0-9 keep their class, 10-19 change
    it. A CAM's similarity column s has the given value (+ small noise) on preserving pairs and
    1 - value on changing ones, so its RM_s grows with the value."""
    rng = np.random.default_rng(seed)
    rows = []
    for noise in ("blur", "gaussian"):
        for cam in CAMS:
            for image in range(n_images):
                changed = image >= n_images // 2
                row = {"dataset": "d", "model": "m", "noise": noise, "cam": cam, "severity": 1}
                row.update(image_id=f"{image:02d}", changed=changed)
                for column, by_cam in values.items():
                    value = by_cam[cam] + rng.normal(0, 0.01)
                    row[column] = 1.0 - value if changed else value
                rows.append(row)
    return pd.DataFrame(rows)


def test_agreement_builds_rm_from_each_similarity_with_the_same_split() -> None:
    order = {"ablationcam": 0.9, "eigencam": 0.7, "gradcam": 0.5, "layercam": 0.3}
    reverse = {cam: 1.2 - value for cam, value in order.items()}
    values = {"rbo": order, "iou_top20": order, "ssim": reverse}
    scores = score_rows(values)
    # spearman is stored as rho: (1 + rho) / 2 = the value; l1 as a distance: 1 - l1 = the value
    scores["spearman"] = 2 * scores["rbo"] - 1
    scores["l1"] = 1 - scores["rbo"]
    table = agreement.ranking_agreement(scores, n_boot=100, ci=0.9, seed=0, min_n=5)
    assert table["cam"].tolist() == ["ablationcam", "eigencam", "gradcam", "layercam"]
    gradcam = table[table["cam"] == "gradcam"].iloc[0]
    rows = scores[(scores["cam"] == "gradcam") & (scores["noise"] == "blur")]
    same, flipped = rows[~rows["changed"]], rows[rows["changed"]]
    by_hand = ((1 + same["spearman"]) / 2).mean() * (1 - (1 + flipped["spearman"]) / 2).mean()
    other = scores[(scores["cam"] == "gradcam") & (scores["noise"] == "gaussian")]
    same, flipped = other[~other["changed"]], other[other["changed"]]
    by_hand = (by_hand + ((1 + same["spearman"]) / 2).mean() * (1 - (1 + flipped["spearman"]) / 2).mean()) / 2
    assert gradcam["rm_spearman"] == pytest.approx(by_hand)
    assert gradcam["n_images"] == 20
    assert (
        (table["tau_spearman"] == 1.0).all()
        and (table["tau_l1"] == 1.0).all()
        and (table["tau_iou_top20"] == 1.0).all()
    )
    assert (table["tau_ssim"] == -1.0).all() and (table["tau_ssim_hi"] == -1.0).all()
    assert table["rank_ssim"].tolist() == [4.0, 3.0, 2.0, 1.0]
    thin = agreement.ranking_agreement(scores, n_boot=100, ci=0.9, seed=0, min_n=11)
    assert (
        thin["tau_ssim_lo"].isna().all()
        and thin["note"].iloc[0] == "images_same = 10 < 11; images_changed = 10 < 11: no CI"
    )


def test_sensitivity_compares_each_setting_with_the_main_ranking() -> None:
    order = {"ablationcam": 0.9, "eigencam": 0.7, "gradcam": 0.5, "layercam": 0.3}
    swapped = {**order, "ablationcam": 0.6, "eigencam": 0.8}  # one swap: tau = (5 - 1) / 6
    scores = score_rows({"rbo": order, "rbo_p=0.8": order, "segmentation=slic": swapped})
    chosen = [Setting("rbo_p", 0.8), Setting("segmentation", "slic")]
    tables_by_noise = [table for _, table in scores.groupby(["noise", "cam"])]
    rows = sensitivity.sensitivity_rows(tables_by_noise, chosen, n_boot=100, ci=0.9, min_n=5, seed=0)
    assert list(rows.columns) == list(sensitivity.SENSITIVITY_COLUMNS)
    assert len(rows) == 3 * 2  # (two noises + all) x settings
    overall = rows[rows["noise"] == "all"].set_index("setting")
    assert overall.loc["rbo_p=0.8", "tau"] == 1.0 and overall.loc["rbo_p=0.8", "same_best"]
    assert overall.loc["segmentation=slic", "tau"] == pytest.approx(4 / 6)
    assert overall.loc["segmentation=slic", "best"] == "eigencam" and not overall.loc["segmentation=slic", "same_best"]
    assert overall.loc["rbo_p=0.8", "ranking"].startswith("AblationCAM 0.")


def test_settings_leave_out_the_main_ones_and_parse_their_names() -> None:
    chosen = settings(
        {"rbo_p": [0.8, 0.9, 0.95], "segmentation": ["quickshift", "slic"]}, rbo_p=0.9, segmentation="quickshift"
    )
    assert [setting.name for setting in chosen] == ["rbo_p=0.8", "rbo_p=0.95", "segmentation=slic"]
    assert Setting.parse("rbo_p=0.95") == Setting("rbo_p", 0.95)
    assert Setting.parse("segmentation=slic") == Setting("segmentation", "slic")
    with pytest.raises(ValueError, match="rbo_p=<p>"):
        Setting.parse("topk=0.1")


def test_extreme_pairs_choose_each_image_once_per_set() -> None:
    rows = pd.DataFrame(
        {
            "image_id": ["a", "a", "b", "b", "c", "c", "d"],
            "severity": [1, 2, 1, 2, 1, 2, 1],
            "changed": [False, False, False, True, True, True, False],
            "rbo": [0.2, 0.1, 0.4, 0.9, 0.8, 0.3, np.nan],
        }
    )
    chosen = examples.extreme_pairs(rows, 2)
    assert list(zip(chosen["set"], chosen["image_id"], chosen["severity"])) == [
        ("preserving", "a", 2),
        ("preserving", "b", 1),
        ("changing", "b", 2),
        ("changing", "c", 1),
    ]
    assert examples.overlay_images(rows.assign(cam="x"), 3) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="n must be"):
        examples.extreme_pairs(rows, 0)


def summary_rows() -> pd.DataFrame:
    row = {"dataset": "d", "model": "m", "noise": "gaussian_noise", "severity": "all", "reason": ""}
    row.update(images_same=40, images_changed=12)
    first = {**row, "cam": "gradcam", "consistency": 0.8, "consistency_lo": 0.75, "consistency_hi": 0.85}
    first.update(responsiveness=0.5, responsiveness_lo=0.4, responsiveness_hi=0.6, rm=0.4, rm_lo=0.3, rm_hi=0.5)
    second = {**row, "cam": "eigencam", "consistency": 0.9, "consistency_lo": 0.88, "consistency_hi": 0.92}
    second.update(responsiveness=0.2, responsiveness_lo=np.nan, responsiveness_hi=np.nan, rm=0.18)
    second.update(rm_lo=np.nan, rm_hi=np.nan, reason="images_changed = 3 < 10")
    per_severity = {**first, "severity": "1"}
    return pd.DataFrame([second, first, per_severity])


def test_tables_for_papers_hold_every_estimate_with_its_interval() -> None:
    assert tables.estimate(0.4, 0.3, 0.5) == "0.40 [0.30, 0.50]"
    assert tables.estimate(0.4, np.nan, np.nan) == "0.40 (no CI)"
    assert tables.estimate(np.nan, np.nan, np.nan) == "n/a"
    assert tables.estimate(-6e-17, -2e-17, 1e-3) == "0.00 [0.00, 0.00]"  # no "-0.00"
    headline = tables.headline(summary_rows())
    assert headline["cam"].tolist() == ["gradcam", "eigencam"]  # pooled rows only, by RM
    assert headline.iloc[0][["C", "R", "RM", "images"]].tolist() == [
        "0.80 [0.75, 0.85]",
        "0.50 [0.40, 0.60]",
        "0.40 [0.30, 0.50]",
        "40 / 12",
    ]
    markdown = tables.to_markdown(summary_rows(), 0.95)
    assert (
        "| Gaussian noise | GradCAM | 0.80 [0.75, 0.85] | 0.50 [0.40, 0.60] | 0.40 [0.30, 0.50] | 40 / 12 |  |"
        in markdown
    )
    assert (
        "| EigenCAM | 0.90 [0.88, 0.92] | 0.20 (no CI) | 0.18 (no CI) | 40 / 12 | images_changed = 3 < 10 |" in markdown
    )
    latex = tables.to_latex(summary_rows(), 0.95)
    assert (
        "Gaussian noise & GradCAM & 0.80 [0.75, 0.85] & 0.50 [0.40, 0.60] & 0.40 [0.30, 0.50] & 40 / 12 \\\\" in latex
    )
    assert "\\begin{tabular}{llllll}" in latex and "95\\% CI" in latex and "min\\_n" in latex
    assert tables.latex("a_b & 50%") == "a\\_b \\& 50\\%"


def test_ranking_text_orders_by_score_and_writes_no_negative_zero() -> None:
    from camrobust.analysis.rankings import ranking_text

    scores = pd.Series({"a": 0.41, "b": -6e-17, "c": np.nan, "d": 0.456})
    assert ranking_text(scores, str.upper) == "D 0.46 > A 0.41 > B 0.00 > C n/a"
