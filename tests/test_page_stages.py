"""The stages behind the report's pages and the sensitivity analysis, run without Snakemake on real
stores: RBO under other settings, its summary, the drill-down pages and the overlay choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import zarr

from camrobust.stages import features, noisy_images, pages, report, score, segment, sensitivity, stage_data, summarise
from tests.untrained import save_untrained_small_vgg

N_IMAGES, SIZE, CAMS = 10, 32, ("gradcam", "eigencam")
KEYS = {"dataset": "tiny", "model": "vgg", "noise": "gaussian_noise"}


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A staged shapes set, an untrained CNN, Gaussian noise at two severities, predictions, the
    raw maps of two CAMs, the main (slic) and another (quickshift) segmentation, and score tables."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("page_stages")
    paths = {name: root / f"{name}.zarr" for name in ("eval", "noisy", "segments", "quickshift")}
    paths |= {"card": root / "card.json", "weights": root / "weights.pt"}
    spec = {"kind": "shapes", "variant": "cluttered", "n_images": N_IMAGES, "image_size": SIZE}
    stage_data.stage_images(spec=spec, split="eval", seed=0, out=paths["eval"])
    save_untrained_small_vgg(paths["weights"], paths["card"], size=SIZE, class_names=[f"class {i}" for i in range(6)])
    noise = {"noise_name": "gaussian_noise", "severities": [2, 5], "params": None, "seed": 0, "namespace": "tiny"}
    noisy_images.perturb_images(**noise, clean_store=paths["eval"], out=paths["noisy"])
    segment.segment_images(clean_store=paths["eval"], method="slic", params=None, out=paths["segments"])
    segment.segment_images(clean_store=paths["eval"], method="quickshift", params=None, out=paths["quickshift"])
    model_files = {"card_path": paths["card"], "weights_path": paths["weights"], "device": "cpu"}
    for condition, images in (("clean", paths["eval"]), ("noisy", paths["noisy"])):
        paths[f"{condition}_pred"] = root / f"{condition}_pred.zarr"
        features.predict_images(
            images_store=images,
            labels_store=paths["eval"],
            target_mode="predicted",
            batch_size=32,
            out=paths[f"{condition}_pred"],
            **model_files,
        )
        maps = {cam: root / f"{condition}_{cam}.zarr" for cam in CAMS}
        features.extract_features(
            images_store=images,
            predictions_store=paths[f"{condition}_pred"],
            batch_size=32,
            precision="float32",
            out=root / f"{condition}_features.zarr",
            cam_stores=maps,
            **model_files,
        )
        paths |= {f"{condition}_{cam}": path for cam, path in maps.items()}
    # An untrained CNN predicts one class whatever the noise: let half the images change class, so
    # that both sets are populated (the CAMs explain the stored targets, unchanged).
    pred = zarr.open_group(paths["noisy_pred"], mode="r+")["pred"]
    changed = np.asarray(pred[...])
    changed[: N_IMAGES // 2] = (changed[: N_IMAGES // 2] + 1) % 6
    pred[...] = changed
    for cam in CAMS:
        paths[f"scores_{cam}"] = root / f"scores_{cam}.parquet"
        score.score_cams(
            clean_store=paths["eval"],
            segments_store=paths["segments"],
            clean_predictions=paths["clean_pred"],
            noisy_predictions=paths["noisy_pred"],
            clean_cams=paths[f"clean_{cam}"],
            noisy_cams=paths[f"noisy_{cam}"],
            keys={**KEYS, "cam": cam},
            rbo_p=0.9,
            topk=0.2,
            out=paths[f"scores_{cam}"],
        )
    paths["scores"] = root / "scores.parquet"
    summarise.collect_scores(paths=[paths[f"scores_{cam}"] for cam in CAMS], out=paths["scores"])
    paths["summary"] = root / "robustness.csv"
    summarise.summarise_robustness(
        scores=paths["scores"], attacks=[], n_boot=20, ci=0.9, seed=0, min_n=5, out=paths["summary"]
    )
    return paths


def test_rbo_under_other_settings_and_whether_the_ranking_changes(stores: dict[str, Path], tmp_path: Path) -> None:
    settings = [
        {"name": "rbo_p=0.8", "rbo_p": 0.8, "segmentation": "slic"},
        {"name": "segmentation=quickshift", "rbo_p": 0.9, "segmentation": "quickshift"},
    ]
    out = tmp_path / "sensitivity.parquet"
    sensitivity.score_sensitivity(
        clean_store=stores["eval"],
        segment_stores={"slic": stores["segments"], "quickshift": stores["quickshift"]},
        clean_predictions=stores["clean_pred"],
        noisy_predictions=stores["noisy_pred"],
        clean_cams={cam: stores[f"clean_{cam}"] for cam in CAMS},
        noisy_cams={cam: stores[f"noisy_{cam}"] for cam in CAMS},
        keys=KEYS,
        settings=[*settings, {"name": "rbo_p=0.9", "rbo_p": 0.9, "segmentation": "slic"}],
        out=out,
    )
    table = pd.read_parquet(out)
    assert len(table) == len(CAMS) * 2 * N_IMAGES
    assert list(table.columns)[-3:] == ["rbo_p=0.8", "segmentation=quickshift", "rbo_p=0.9"]
    main = pd.read_parquet(stores["scores"]).sort_values(["cam", "severity", "image_id"]).reset_index(drop=True)
    again = table.sort_values(["cam", "severity", "image_id"]).reset_index(drop=True)
    np.testing.assert_array_equal(again["rbo_p=0.9"], main["rbo"])  # the main setting, recomputed: the same RBO
    np.testing.assert_array_equal(again["changed"], main["changed"])
    assert not np.allclose(again["rbo_p=0.8"], main["rbo"])
    summary = sensitivity.summarise_sensitivity(
        scores=stores["scores"], tables=[out], n_boot=30, ci=0.9, min_n=2, seed=0, out=tmp_path / "sensitivity.csv"
    )
    assert set(summary["noise"]) == {"gaussian_noise", "all"}
    assert set(summary["setting"]) == {"rbo_p=0.8", "segmentation=quickshift", "rbo_p=0.9"}
    same = summary[summary["setting"] == "rbo_p=0.9"]
    assert (same["tau"] == 1.0).all() and same["same_best"].all()
    assert all(row.count(" > ") == 1 for row in summary["ranking"])  # both CAMs ranked in every row


def test_drilldown_pages_and_the_overlays_show_the_chosen_pairs(stores: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "drilldown"
    pages.write_drilldown(
        scores={cam: stores[f"scores_{cam}"] for cam in CAMS},
        summary=stores["summary"],
        clean_store=stores["eval"],
        noisy_store=stores["noisy"],
        segments_store=stores["segments"],
        clean_cams={cam: stores[f"clean_{cam}"] for cam in CAMS},
        noisy_cams={cam: stores[f"noisy_{cam}"] for cam in CAMS},
        n_pairs=2,
        out=folder,
    )
    assert sorted(path.name for path in folder.iterdir()) == ["eigencam.html", "gradcam.html"]
    page = (folder / "gradcam.html").read_text()
    scores = pd.read_parquet(stores["scores_gradcam"])
    lowest = scores[~scores["changed"]].sort_values(["rbo", "image_id"]).iloc[0]
    assert f"<td>{lowest['image_id']}</td>" in page and f"{lowest['rbo']:.3f}" in page
    assert "<h1>tiny / vgg: GradCAM under Gaussian noise</h1>" in page and "data:image/jpeg;base64," in page
    chosen = report.plot_cam_overlays(
        clean_store=stores["eval"],
        noisy_store=stores["noisy"],
        segments_store=stores["segments"],
        score_tables={cam: stores[f"scores_{cam}"] for cam in CAMS},
        clean_cams={cam: stores[f"clean_{cam}"] for cam in CAMS},
        noisy_cams={cam: stores[f"noisy_{cam}"] for cam in CAMS},
        n_images=2,
        title="t",
        out=tmp_path / "overlays.jpg",
    )
    both = pd.concat([pd.read_parquet(stores[f"scores_{cam}"]) for cam in CAMS])
    mean = both.groupby(["image_id", "severity"]).agg(changed=("changed", "first"), rbo=("rbo", "mean")).reset_index()
    preserving = mean[~mean["changed"]].sort_values(["rbo", "image_id"])
    assert chosen[0] == preserving["image_id"].iloc[0] and len(chosen) == 2
    assert (tmp_path / "overlays.jpg").stat().st_size > 10_000
