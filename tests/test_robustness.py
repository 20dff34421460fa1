"""Consistency / responsiveness / RM table: hand values, empty sets, bootstrap CIs, group order.

Hand values are means and products of a few float64 numbers (error ~1e-16), checked with
pytest.approx's relative 1e-6; bootstrap CIs are compared with numpy quantiles of the same draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from camrobust.analysis import bootstrap, robustness, totals
from camrobust.analysis.robustness import (
    NO_CHANGING,
    NO_PRESERVING,
    SUMMARY_COLUMNS,
    robustness_table,
    similarity_summary,
)
from camrobust.seeding import image_generator

BY = ["dataset", "model", "cam", "noise", "severity"]


def score_rows(cam: str, severity: int, values: list[tuple[str, bool, float]]) -> list[dict]:
    return [
        {
            "dataset": "shapes",
            "model": "cnn",
            "cam": cam,
            "noise": "gaussian",
            "severity": severity,
            "image_id": image_id,
            "changed": changed,
            "rbo": r,
        }
        for image_id, changed, r in values
    ]


def small_table() -> pd.DataFrame:
    rows = score_rows("gradcam", 1, [("a", False, 0.8), ("b", False, 0.6), ("c", True, 0.3), ("d", False, np.nan)])
    rows += score_rows("gradcam", 2, [("a", False, 0.5), ("b", True, 0.2), ("c", True, 0.4), ("d", True, 0.0)])
    rows += score_rows("layercam", 1, [("a", False, 0.9), ("b", False, 0.7), ("c", False, 0.1), ("d", False, 0.3)])
    return pd.DataFrame(rows)


def test_hand_computed_c_r_rm() -> None:
    table = robustness_table(small_table(), BY, n_boot=0, min_n=1)
    assert list(table.columns) == BY + list(SUMMARY_COLUMNS)
    first = table.iloc[0]  # gradcam, severity 1: C = (0.8 + 0.6) / 2, R = 1 - 0.3
    assert (first["n"], first["n_nan"], first["n_same"], first["n_changed"]) == (4, 1, 2, 1)
    assert first["consistency"] == pytest.approx(0.7)
    assert first["responsiveness"] == pytest.approx(0.7)
    assert first["rm"] == pytest.approx(0.49)
    assert first["reason"] == ""
    assert (first["images_same"], first["images_changed"]) == (2, 1)
    second = table.iloc[1]  # gradcam, severity 2: C = 0.5, R = mean(0.8, 0.6, 1.0) = 0.8
    assert second["consistency"] == pytest.approx(0.5)
    assert second["responsiveness"] == pytest.approx(0.8)
    assert second["rm"] == pytest.approx(0.4)
    assert np.isnan(first["consistency_lo"])  # n_boot = 0: no interval


def test_empty_set_gives_nan_with_reason_and_keeps_the_row() -> None:
    table = robustness_table(small_table(), BY, n_boot=50, min_n=1)
    layercam = table[table["cam"] == "layercam"].iloc[0]
    assert layercam["n_changed"] == 0 and layercam["consistency"] == pytest.approx(0.5)
    assert np.isnan(layercam["responsiveness"]) and np.isnan(layercam["rm"])
    assert np.isnan(layercam["responsiveness_lo"]) and np.isnan(layercam["rm_hi"])
    assert layercam["reason"] == NO_CHANGING
    all_changed = pd.DataFrame(score_rows("gradcam", 3, [("a", True, 0.2), ("b", True, np.nan)]))
    row = robustness_table(all_changed, BY, n_boot=10, min_n=1).iloc[0]
    assert np.isnan(row["consistency"]) and row["reason"] == NO_PRESERVING
    assert row["responsiveness"] == pytest.approx(0.8) and row["n_nan"] == 1
    nothing = pd.DataFrame(score_rows("gradcam", 3, [("a", True, np.nan)]))
    assert robustness_table(nothing, BY, n_boot=10, min_n=1).iloc[0]["reason"] == f"{NO_PRESERVING}; {NO_CHANGING}"


def test_a_set_below_min_n_images_keeps_its_estimate_without_an_interval() -> None:
    """gradcam at severity 1 has 2 class-preserving images and 1 class-changing image: with min_n 2
    C keeps its CI, R and RM lose theirs and the reason names the count; pooled over severities,
    an image counts once (image c changes at both severities: 3 changing images, not 4 pairs)."""
    table = robustness_table(small_table(), BY, n_boot=50, min_n=2)
    first = table.iloc[0]
    assert first["reason"] == "images_changed = 1 < 2"
    assert first["responsiveness"] == pytest.approx(0.7) and first["rm"] == pytest.approx(0.49)
    assert np.isfinite(first["consistency_lo"]) and np.isfinite(first["consistency_hi"])
    assert np.isnan([first["responsiveness_lo"], first["responsiveness_hi"], first["rm_lo"], first["rm_hi"]]).all()
    pooled = robustness_table(small_table()[lambda f: f["cam"] == "gradcam"], ["cam"], n_boot=50, min_n=4).iloc[0]
    assert (pooled["n_same"], pooled["n_changed"]) == (3, 4)
    assert (pooled["images_same"], pooled["images_changed"]) == (2, 3)
    assert pooled["reason"] == "images_same = 2 < 4; images_changed = 3 < 4"
    assert np.isnan(pooled[["consistency_lo", "responsiveness_hi", "rm_lo"]].to_numpy(float)).all()


def random_table(seed: int, n_images: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for cam in ("gradcam", "layercam", "scorecam"):
        for severity in (1, 2, 3):
            changed = rng.random(n_images) < 0.3 * severity
            values = np.clip(rng.normal(0.7 - 0.3 * changed, 0.15), 0, 1)
            rows += score_rows(
                cam,
                severity,
                [(f"{i:03d}", bool(c), float(v)) for i, (c, v) in enumerate(zip(changed, values))],
            )
    return pd.DataFrame(rows)


def test_bootstrap_ci_contains_estimate_and_is_reproducible() -> None:
    scores = random_table(0)
    first = robustness_table(scores, BY, n_boot=300, seed=7, min_n=1)
    again = robustness_table(scores, BY, n_boot=300, seed=7, min_n=1)
    pd.testing.assert_frame_equal(first, again)
    for name in ("consistency", "responsiveness", "rm"):
        assert (first[f"{name}_lo"] <= first[name]).all() and (first[name] <= first[f"{name}_hi"]).all()
        assert (first[f"{name}_hi"] - first[f"{name}_lo"] > 0).all()
    other_seed = robustness_table(scores, BY, n_boot=300, seed=8, min_n=1)
    assert not np.allclose(first["consistency_lo"], other_seed["consistency_lo"])


def test_bootstrap_percentiles_follow_the_documented_draws() -> None:
    scores = pd.DataFrame(
        score_rows("gradcam", 1, [("a", False, 0.9), ("b", False, 0.5), ("c", True, 0.2), ("d", True, 0.6)])
    )
    row = robustness_table(scores, BY, n_boot=200, seed=3, ci=0.9, min_n=1).iloc[0]
    draws = image_generator("robustness_bootstrap", 3, "shapes", "cnn", "gradcam", "gaussian", 1).integers(
        0, 4, (200, 4)
    )
    same, changed = np.array([0.9, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 0.8, 0.4])
    is_same = np.array([1.0, 1.0, 0.0, 0.0])
    with np.errstate(invalid="ignore", divide="ignore"):
        c = same[draws].sum(1) / is_same[draws].sum(1)
        r = changed[draws].sum(1) / (1 - is_same)[draws].sum(1)
    assert row["consistency_lo"] == pytest.approx(np.nanquantile(c, 0.05))
    assert row["responsiveness_hi"] == pytest.approx(np.nanquantile(r, 0.95))
    assert row["rm_lo"] == pytest.approx(np.nanquantile(c * r, 0.05))


def test_groups_do_not_depend_on_order_or_on_other_groups() -> None:
    scores = random_table(1)
    full = robustness_table(scores, BY, n_boot=200, seed=0, min_n=1)
    shuffled = scores.sample(frac=1.0, random_state=5)
    pd.testing.assert_frame_equal(robustness_table(shuffled, BY, n_boot=200, seed=0, min_n=1), full)
    alone = robustness_table(scores[scores["cam"] == "scorecam"], BY, n_boot=200, seed=0, min_n=1)
    pd.testing.assert_frame_equal(alone, full[full["cam"] == "scorecam"].reset_index(drop=True))


def test_pooled_rows_resample_images_with_all_their_severities() -> None:
    scores = random_table(2)
    pooled = robustness_table(scores, ["dataset", "model", "cam", "noise"], n_boot=200, seed=0, min_n=1)
    assert len(pooled) == 3
    gradcam = scores[scores["cam"] == "gradcam"]
    row = pooled.iloc[0]
    assert row["n_same"] == (~gradcam["changed"]).sum()
    assert row["consistency"] == pytest.approx(gradcam.loc[~gradcam["changed"], "rbo"].mean())
    assert row["responsiveness"] == pytest.approx((1 - gradcam.loc[gradcam["changed"], "rbo"]).mean())
    overall = robustness_table(scores, [], n_boot=0)
    assert list(overall.columns) == list(SUMMARY_COLUMNS) and overall.iloc[0]["n"] == len(scores)


def test_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="changed"):
        robustness_table(small_table().drop(columns="changed"), BY)
    with pytest.raises(ValueError, match="ci must lie"):
        robustness_table(small_table(), BY, ci=1.5)


def test_similarity_summary_means_and_max_sensitivity() -> None:
    rows = []
    for severity in (1, 2):
        for image in range(3):
            sensitivity = np.nan if (image, severity) == (2, 1) else 0.1 * image + 0.01 * severity
            rows.append(
                {
                    "dataset": "shapes",
                    "cam": "gradcam",
                    "severity": severity,
                    "image_id": str(image),
                    "spearman": 0.1 * image,
                    "iou_top20": 0.5,
                    "ssim": 0.9,
                    "l1": 0.1 * severity,
                    "sensitivity": sensitivity,
                }
            )
    scores = pd.DataFrame(rows)
    pooled = similarity_summary(scores, ["dataset", "cam"]).iloc[0]
    assert pooled["n"] == 6 and pooled["l1"] == pytest.approx(0.15)
    # Avg: mean of 0.01, 0.02, 0.11, 0.12, 0.22; Max: mean over images of 0.02, 0.12, 0.22.
    assert pooled["sensitivity_mean"] == pytest.approx(0.096)
    assert pooled["sensitivity_max"] == pytest.approx(0.12)
    per_severity = similarity_summary(scores, ["dataset", "cam", "severity"])
    np.testing.assert_allclose(per_severity["sensitivity_max"], [0.06, 0.12])
    assert list(similarity_summary(scores, []).columns) == [
        "n",
        "spearman",
        "iou_top20",
        "ssim",
        "l1",
        "sensitivity_mean",
        "sensitivity_max",
    ]


def test_similarity_summary_reads_the_iou_column_the_scores_have() -> None:
    """Scores written with metric.topk = 0.1 have ``iou_top10``: the summary averages that column."""
    rows = [
        {"dataset": "shapes", "image_id": str(i), "spearman": 0.1, "iou_top10": 0.25 * i, "ssim": 0.9, "l1": 0.1}
        | {"sensitivity": 0.2}
        for i in range(3)
    ]
    summary = similarity_summary(pd.DataFrame(rows), ["dataset"])
    assert list(summary.columns)[:5] == ["dataset", "n", "spearman", "iou_top10", "ssim"]
    assert summary["iou_top10"].iloc[0] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="one top-k IoU column"):
        similarity_summary(pd.DataFrame(rows).rename(columns={"iou_top10": "iou"}), ["dataset"])


def test_blocked_bootstrap_equals_summing_every_replicate_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of replicates (here 1, 3 and 7 images' worth of values) give the CIs of one sum
    over the whole (n_boot, n_images) matrix of int64 draws, exactly."""
    scores = random_table(3, n_images=40)
    group = scores[(scores["cam"] == "gradcam") & (scores["severity"] == 1)]
    key = ("shapes", "cnn", "gradcam", "gaussian", 1)
    row = robustness_table(group, BY, n_boot=101, seed=4, ci=0.8, min_n=1).iloc[0]
    per_image = robustness._per_image_sums(
        robustness._image_keys(group), group["rbo"].to_numpy(float), group["changed"].to_numpy(bool)
    )
    draws = image_generator("robustness_bootstrap", 4, *key).integers(0, 40, size=(101, 40))
    replicates = totals.estimates(*(total[draws].sum(axis=1) for total in per_image))
    expected = [np.quantile(values[~np.isnan(values)], (0.1, 0.9)) for values in replicates]
    for name, (low, high) in zip(("consistency", "responsiveness", "rm"), expected, strict=True):
        assert (row[f"{name}_lo"], row[f"{name}_hi"]) == (low, high)
    for block_values in (40, 120, 280):
        monkeypatch.setattr(bootstrap, "BOOTSTRAP_BLOCK_VALUES", block_values)
        pd.testing.assert_series_equal(robustness_table(group, BY, n_boot=101, seed=4, ci=0.8, min_n=1).iloc[0], row)
