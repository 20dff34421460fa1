"""Verdicts: a CAM is named the best only beyond the practical threshold and with a paired
bootstrap CI over images that excludes 0; hand-built score tables, the interval recomputed here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from camrobust.analysis.verdicts import VERDICT_COLUMNS, verdicts
from camrobust.seeding import image_generator

N_IMAGES = 30


def table(offsets: dict[str, float], *, n_images: int = N_IMAGES, changing: int = 12, seed: int = 0) -> pd.DataFrame:
    """Two severities; the first ``changing`` images change class at severity 2. A CAM's r is 0.8
    + its offset on class-preserving pairs and 0.3 - its offset on class-changing ones, plus
    per-pair noise, so RM grows with the offset."""
    rng = np.random.default_rng(seed)
    rows = []
    for cam, offset in offsets.items():
        for severity in (1, 2):
            for image in range(n_images):
                changed = severity == 2 and image < changing
                base = 0.3 - offset if changed else 0.8 + offset
                rows.append(
                    {
                        "dataset": "shapes",
                        "model": "cnn",
                        "noise": "gaussian_noise",
                        "cam": cam,
                        "severity": severity,
                        "image_id": f"{image:03d}",
                        "changed": changed,
                        "rbo": float(np.clip(base + rng.normal(0, 0.05), 0, 1)),
                    }
                )
    return pd.DataFrame(rows)


def pooled_rm(scores: pd.DataFrame) -> pd.Series:
    same = scores[~scores["changed"]].groupby("cam")["rbo"].mean()
    flipped = scores[scores["changed"]].assign(value=lambda f: 1 - f["rbo"]).groupby("cam")["value"].mean()
    return same * flipped


def test_a_clear_winner_is_named_with_its_paired_interval() -> None:
    scores = table({"gradcam": 0.1, "layercam": 0.0, "eigencam": -0.1})
    result = verdicts(scores, practical_difference=0.05, n_boot=300, ci=0.95, seed=4, min_n=10)
    assert list(result.columns) == list(VERDICT_COLUMNS) and len(result) == 1
    row = result.iloc[0]
    rm = pooled_rm(scores)
    assert (row["best"], row["runner_up"]) == ("gradcam", "layercam")
    assert row["rm_best"] == pytest.approx(rm["gradcam"]) and row["difference"] == pytest.approx(
        rm["gradcam"] - rm["layercam"]
    )
    assert (row["n_images"], row["images_same"], row["images_changed"]) == (30, 30, 12)
    # The paired bootstrap by hand: one draw of images per replicate for every CAM.
    draws = image_generator("verdicts", 4, "shapes", "cnn", "gaussian_noise").integers(0, 30, (300, 30), dtype=np.int32)
    sums = {}
    for cam, rows in scores.groupby("cam"):
        grouped = rows.assign(same=~rows["changed"], flip=rows["changed"]).groupby("image_id")
        sums[cam] = np.column_stack(
            [
                grouped.apply(lambda g: g.loc[g["same"], "rbo"].sum()),
                grouped["same"].sum(),
                grouped.apply(lambda g: (1 - g.loc[g["flip"], "rbo"]).sum()),
                grouped["flip"].sum(),
            ]
        ).astype(float)

    def rm_of(totals: np.ndarray) -> np.ndarray:
        return totals[..., 0] / totals[..., 1] * (totals[..., 2] / totals[..., 3])

    differences = rm_of(sums["gradcam"][draws].sum(axis=1)) - rm_of(sums["layercam"][draws].sum(axis=1))
    assert (row["difference_lo"], row["difference_hi"]) == pytest.approx(
        tuple(np.quantile(differences, (0.025, 0.975)))
    )
    assert row["decided"] and row["tied"] == "gradcam"
    assert row["verdict"].startswith("GradCAM is the most robust (RM ")
    assert "more than the practical threshold 0.05" in row["verdict"]


def test_within_the_threshold_there_is_no_meaningful_difference() -> None:
    scores = table({"gradcam": 0.02, "layercam": 0.0, "eigencam": -0.15})
    row = verdicts(scores, practical_difference=0.05, n_boot=200, ci=0.95, seed=0, min_n=10).iloc[0]
    assert not row["decided"] and row["tied"] == "gradcam, layercam"
    assert row["difference"] < 0.05
    assert row["verdict"].startswith("No meaningful difference between GradCAM (")
    assert "and LayerCAM (" in row["verdict"] and row["verdict"].endswith("EigenCAM is lower.")
    strict = verdicts(scores, practical_difference=0.0, n_boot=200, ci=0.95, seed=0, min_n=10).iloc[0]
    assert strict["decided"] == (strict["difference_lo"] > 0)  # no threshold: the CI alone decides


def test_too_few_images_name_no_best() -> None:
    scores = table({"gradcam": 0.2, "layercam": 0.0}, changing=3)
    row = verdicts(scores, practical_difference=0.05, n_boot=200, ci=0.95, seed=0, min_n=10).iloc[0]
    assert not row["decided"] and np.isnan(row["difference_lo"])
    assert row["verdict"] == (
        f"Too few images to name a best CAM method (images_changed = 3 < 10); highest RM: GradCAM ({row['rm_best']:.2f})."
    )
    none_changed = table({"gradcam": 0.2, "layercam": 0.0}, changing=0)
    row = verdicts(none_changed, practical_difference=0.05, n_boot=200, ci=0.95, seed=0, min_n=10).iloc[0]
    assert row["verdict"] == "RM is undefined for every CAM method: no class-changing pairs." and row["best"] == ""


def test_a_leading_baseline_map_comes_with_a_warning() -> None:
    scores = table({"class_blob_map": 0.1, "gradcam": 0.0})
    row = verdicts(scores, practical_difference=0.05, n_boot=200, ci=0.95, seed=0, min_n=10).iloc[0]
    assert row["best"] == "class_blob_map" and row["decided"]
    assert row["verdict"].endswith(
        "Warning: class blob map is a baseline map that explains nothing; RM alone does not earn a CAM trust here "
        "(see Which CAM to trust)."
    )
    plain = verdicts(
        table({"gradcam": 0.1, "class_blob_map": 0.0}), practical_difference=0.05, n_boot=200, ci=0.95, seed=0, min_n=10
    )
    assert "Warning" not in plain.iloc[0]["verdict"]
