"""The trust stages on tiny, hand-checkable inputs: baseline maps from the features job, masks,
localisation and faithfulness tables, the trust summary and its tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats as scipy_stats

from camrobust import cams, models, vocabulary
from camrobust.analysis import trust
from camrobust.config import ConfigError, validate_config
from camrobust.core.maps import condition_ids
from camrobust.datasets import DatasetError
from camrobust.io.images import image_ids
from camrobust.io.maps import CAM_DIMS, cam_attrs
from camrobust.io.store import open_store, store_writer
from camrobust.stages import cams as cam_stages
from camrobust.stages import features, noisy_images, segment, stage_data
from camrobust.stages import trust as trust_stages
from tests.test_masks import folder, imagenet, rectangle_mask, write_box_file  # noqa: F401  (fixtures)
from tests.untrained import save_untrained_small_vgg

N_IMAGES, SIZE = 6, 32


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A staged shapes dataset, an untrained small CNN with its card, a noisy store, the
    predictions and the features job's CAM stores of gradcam and the four baselines."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("trust")
    paths = {name: root / f"{name}.zarr" for name in ("eval", "noisy", "segments", "clean_pred", "noisy_pred")}
    paths |= {"card": root / "card.json", "weights": root / "weights.pt"}
    spec = {"kind": "shapes", "variant": "plain", "n_images": N_IMAGES, "image_size": SIZE}
    stage_data.stage_images(spec=spec, split="eval", seed=0, out=paths["eval"])
    save_untrained_small_vgg(paths["weights"], paths["card"], size=SIZE)
    noisy_images.perturb_images(
        noise_name="gaussian_noise",
        severities=[2, 5],
        params=None,
        seed=0,
        namespace="tiny",
        clean_store=paths["eval"],
        out=paths["noisy"],
    )
    segment.segment_images(clean_store=paths["eval"], method="slic", params=None, out=paths["segments"])
    model_files = {"card_path": paths["card"], "weights_path": paths["weights"], "device": "cpu"}
    for condition, images in (("clean", paths["eval"]), ("gaussian_noise", paths["noisy"])):
        predictions = paths["clean_pred" if condition == "clean" else "noisy_pred"]
        features.predict_images(
            images_store=images,
            labels_store=paths["eval"],
            target_mode="predicted",
            batch_size=4,
            out=predictions,
            **model_files,
        )
        stores = {method: root / f"{condition}_{method}.zarr" for method in ("gradcam", *cams.BASELINE_METHODS)}
        features.extract_features(
            images_store=images,
            predictions_store=predictions,
            batch_size=4,  # two batches: 4 + 2 images
            precision="float32",
            out=root / f"{condition}_features.zarr",
            cam_stores={"gradcam": stores["gradcam"]},
            baseline_stores={m: stores[m] for m in cams.BASELINE_METHODS if m != "edge_map"},
            ids_store=paths["eval"],
            condition=condition,
            seed=3,
            **model_files,
        )
        cam_stages.edge_map_maps(images_store=images, out=stores["edge_map"], chunk_size=4)
        paths |= {f"{condition}_{method}": path for method, path in stores.items()}
    return paths


def test_the_features_job_writes_the_baseline_maps(staged: dict[str, Path]) -> None:
    """Each stored baseline map is baseline_raw_maps of its image, explained class, id and seed, on
    the target layer's grid, whichever batch it was in; the edge map, written by its own job at the
    image's resolution, too."""
    images = np.asarray(open_store(staged["eval"])["images"][...])
    ids = image_ids(open_store(staged["eval"]))
    targets = np.asarray(open_store(staged["clean_pred"])["target"][...])[:, 0]
    grid = open_store(staged["clean_gradcam"])["maps"].shape[-2:]
    images01 = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    expected = cams.baseline_raw_maps(
        images01, torch.from_numpy(targets), list(cams.BASELINE_METHODS), ids=ids, grid=grid, seed=3
    )
    for method, maps in expected.items():
        stored = open_store(staged[f"clean_{method}"])
        assert stored.attrs["cam"] == method and stored.attrs["image_size"] == [SIZE, SIZE]
        assert np.array_equal(stored["maps"][:, 0], maps.clamp_min(0).numpy()), method
    assert open_store(staged["clean_edge_map"])["maps"].shape == (N_IMAGES, 1, SIZE, SIZE)
    assert open_store(staged["clean_random_map"])["maps"].shape == (N_IMAGES, 1, *grid)


def test_baseline_maps_under_noise(staged: dict[str, Path]) -> None:
    """The random map is drawn afresh for each noisy image; the class blob depends on the
    explained class alone; the centre map never moves."""
    clean = {m: np.asarray(open_store(staged[f"clean_{m}"])["maps"][...]) for m in cams.BASELINE_METHODS}
    noisy = {m: np.asarray(open_store(staged[f"gaussian_noise_{m}"])["maps"][...]) for m in cams.BASELINE_METHODS}
    assert noisy["random_map"].shape[1] == 2 and not np.allclose(noisy["random_map"][:, 0], clean["random_map"][:, 0])
    assert not np.allclose(noisy["random_map"][:, 0], noisy["random_map"][:, 1])
    assert np.array_equal(noisy["centre_map"][:, 1], clean["centre_map"][:, 0])
    targets = np.asarray(open_store(staged["noisy_pred"])["target"][...])
    clean_targets = np.asarray(open_store(staged["clean_pred"])["target"][...])[:, 0]
    for i, s in np.ndindex(targets.shape):
        same = targets[i, s] == clean_targets[i]
        assert np.array_equal(noisy["class_blob_map"][i, s], clean["class_blob_map"][i, 0]) == same
    assert condition_ids(["a", "b"], "fog", [1, 3]) == ["a/fog/1", "a/fog/3", "b/fog/1", "b/fog/3"]
    assert condition_ids(["a", "b"], "clean", [0]) == ["a", "b"]


def test_shapes_masks_are_staged_from_the_store(staged: dict[str, Path], tmp_path: Path) -> None:
    spec = {"kind": "shapes", "variant": "plain", "n_images": N_IMAGES, "image_size": SIZE}
    trust_stages.stage_masks(spec=spec, images_store=staged["eval"], out=tmp_path / "masks.zarr", chunk_size=4)
    masks = open_store(tmp_path / "masks.zarr")["masks"]
    assert masks.dtype == bool and np.array_equal(masks[...], open_store(staged["eval"])["masks"][...])


def test_bad_mask_folders_name_the_file_and_leave_no_store(
    folder: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    images, mask_root = folder
    spec = {"kind": "imagefolder", "root": str(images), "masks": str(mask_root), "image_size": SIZE, "n_images": 3}
    stage_data.stage_images(spec=spec, split="eval", seed=0, out=tmp_path / "eval.zarr")
    out = tmp_path / "masks.zarr"
    trust_stages.stage_masks(spec=spec, images_store=tmp_path / "eval.zarr", out=out)
    assert open_store(out)["masks"].shape == (3, SIZE, SIZE)
    (mask_root / "cats/square.png").unlink()  # the last image: its chunk fails after others were read
    with pytest.raises(DatasetError, match="no mask for image cats/square.png"):
        trust_stages.stage_masks(
            spec=spec, images_store=tmp_path / "eval.zarr", out=tmp_path / "missing.zarr", chunk_size=1
        )
    rectangle_mask(mask_root / "birds/wide.png", (150, 100), (1, 1, 5, 5))
    with pytest.raises(DatasetError, match=r"mask .*birds/wide.png is 150x100 px; expected 300x200 px"):
        trust_stages.stage_masks(spec=spec, images_store=tmp_path / "eval.zarr", out=tmp_path / "wrong.zarr")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval.zarr", "images", "masks", "masks.zarr"]


def test_a_box_of_an_unknown_class_names_the_file_and_leaves_no_store(
    imagenet: tuple[dict, list[str]],  # noqa: F811
    tmp_path: Path,
) -> None:
    spec, _ = imagenet
    stage_data.stage_images(spec={**spec, "n_images": 2}, split="eval", seed=0, out=tmp_path / "eval.zarr")
    trust_stages.stage_masks(spec=spec, images_store=tmp_path / "eval.zarr", out=tmp_path / "masks.zarr")
    assert open_store(tmp_path / "masks.zarr")["masks"][...].any(axis=(1, 2)).all()
    write_box_file(Path(spec["boxes"]) / "ILSVRC2012_val_00000002.xml", (160, 240), [("n99999999", 1, 1, 5, 5)])
    with pytest.raises(DatasetError, match=r"ILSVRC2012_val_00000002.xml: class n99999999 is not a class"):
        trust_stages.stage_masks(spec=spec, images_store=tmp_path / "eval.zarr", out=tmp_path / "bad.zarr")
    assert not (tmp_path / "bad.zarr").exists()


def _cam_store(path: Path, maps: np.ndarray, severities: list[int]) -> None:
    with store_writer(path, cam_attrs("gradcam", maps.shape[-2:])) as writer:
        writer.stream("maps", maps.shape, "float32", CAM_DIMS).append(maps)
        writer.add("severity", np.asarray(severities, dtype=np.int64), ("severity",))


def test_localisation_table_by_hand(tmp_path: Path) -> None:
    """Two 4 x 4 images, the object the top-left 2 x 2 pixels. A map with its peak at (0, 0) and
    mass 3 inside of 4 in all; one with its peak outside. Maps at image resolution already, so the
    post-processing only rescales them to [0, 1] (min-max), which leaves every share unchanged."""
    masks = np.zeros((2, 4, 4), bool)
    masks[:, :2, :2] = True
    with store_writer(tmp_path / "masks.zarr") as writer:
        writer.stream("masks", masks.shape, "bool", trust_stages.MASK_DIMS).append(masks)
    with store_writer(tmp_path / "eval.zarr") as writer:
        writer.add("ids", np.asarray(["a", "b"]), ("image",))
    hit = np.zeros((4, 4), np.float32)
    hit[0, 0], hit[0, 1], hit[1, 0], hit[3, 3] = 1.0, 0.5, 0.5, 2 / 3  # min-max: 1, .5, .5, 2/3
    miss = np.zeros((4, 4), np.float32)
    miss[3, 3], miss[0, 0] = 1.0, 0.5
    _cam_store(tmp_path / "clean.zarr", np.stack([hit, miss])[:, None], [0])
    _cam_store(tmp_path / "noisy.zarr", np.stack([np.stack([miss, hit]), np.stack([hit, hit])]), [1, 3])
    out = tmp_path / "loc.parquet"
    trust_stages.score_localisation(
        images_store=tmp_path / "eval.zarr",
        masks_store=tmp_path / "masks.zarr",
        cam_stores={"gaussian_noise": tmp_path / "noisy.zarr", "clean": tmp_path / "clean.zarr"},
        keys={"dataset": "d", "model": "m", "cam": "gradcam"},
        tolerance=0,
        device="cpu",
        out=out,
        chunk_size=1,
    )
    table = pd.read_parquet(out)
    assert list(table["condition"]) == ["clean", "clean", *["gaussian_noise"] * 4]
    assert list(table["severity"]) == [0, 0, 1, 3, 1, 3] and list(table["image_id"]) == ["a", "b", "a", "a", "b", "b"]
    hit_scores = (1.0, 2 / (2 + 2 / 3), 3 / 4)  # pointing, energy 2 / (2 + 2/3), RRA: 3 of the top 4 inside
    miss_scores = (0.0, 0.5 / 1.5, (1 + 2 * 3 / 14) / 4)  # RRA: 1.0, 0.5 (inside), 2 of 14 tied zeros (3 inside)
    expected = [hit_scores, miss_scores, miss_scores, hit_scores, hit_scores, hit_scores]
    got = table[[s.name for s in vocabulary.LOCALISATION]].to_numpy()
    np.testing.assert_allclose(got, np.asarray(expected), rtol=1e-6)  # float32 maps


def test_faithfulness_table_equals_the_kernels(staged: dict[str, Path], tmp_path: Path) -> None:
    """The stage's rows are the faithfulness kernels' values for the stored maps, whatever the chunk."""
    settings = trust_stages.FaithfulnessSettings(steps=5, road_percentages=(25.0, 75.0), batch_size=4)
    out = tmp_path / "faith.parquet"
    trust_stages.score_faithfulness(
        images_store=staged["eval"],
        predictions_store=staged["clean_pred"],
        cam_store=staged["clean_gradcam"],
        segments_store=staged["segments"],
        card_path=staged["card"],
        weights_path=staged["weights"],
        settings=settings,
        keys={"dataset": "d", "model": "m", "cam": "gradcam"},
        seed=0,
        device="cpu",
        out=out,
    )
    table = pd.read_parquet(out)
    assert list(table.columns) == [
        "dataset",
        "model",
        "cam",
        "image_id",
        "target",
        *(s.name for s in vocabulary.FAITHFULNESS),
    ]
    assert list(table["image_id"]) == image_ids(open_store(staged["eval"])) and len(table) == N_IMAGES
    from camrobust.faithfulness import DeletionInsertionSettings, deletion_insertion
    from camrobust.io.maps import pixel_maps
    from camrobust.stages.get_model import load_model

    model, card = load_model(staged["card"], staged["weights"], "cpu")
    x = models.to_model_input(open_store(staged["eval"])["images"][...], card.mean, card.std, torch.device("cpu"))
    maps = torch.from_numpy(pixel_maps(open_store(staged["clean_gradcam"]), slice(None))[:, 0])
    targets = torch.from_numpy(table["target"].to_numpy().copy())
    whole = deletion_insertion(model, x, maps, targets, DeletionInsertionSettings(steps=5, batch_size=64))
    np.testing.assert_allclose(table["deletion_auc"], whole.deletion_auc.double().numpy(), rtol=1e-5)
    np.testing.assert_allclose(table["insertion_auc"], whole.insertion_auc.double().numpy(), rtol=1e-5)
    values = table[[s.name for s in vocabulary.FAITHFULNESS]].to_numpy()
    assert np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all()


def test_faithfulness_steps_below_two_are_a_config_error() -> None:
    base = {
        "datasets": {"s": {"kind": "shapes", "variant": "plain"}},
        "models": {"m": {"kind": "trained", "arch": "small_vgg"}},
        "cams": ["gradcam", "class_blob_map"],
        "noises": {"gaussian_noise": [1]},
    }
    config = validate_config(base)
    assert config["faithfulness"]["steps"] == 21 and config["localisation"] == {"enabled": True, "tolerance": 0}
    with pytest.raises(ConfigError, match=r"faithfulness\.steps.*minimum of 2"):
        validate_config({**base, "faithfulness": {"steps": 1}})
    with pytest.raises(ConfigError, match=r"faithfulness\.road_percentages"):
        validate_config({**base, "faithfulness": {"road_percentages": [100]}})
    with pytest.raises(ConfigError, match=r"datasets\.s\.masks.*only for kind 'imagefolder'"):
        validate_config({**base, "datasets": {"s": {"kind": "shapes", "variant": "plain", "masks": "m"}}})


# --- the summary and the tests ------------------------------------------------------------------


def _per_image() -> pd.DataFrame:
    """Three CAMs on four images: deletion AUC (lower is better) 0.1 / 0.2 / 0.3 per image plus
    0.01 i, so every image ranks a < b < c; insertion AUC (higher is better) the same values."""
    rows = []
    for c, cam in enumerate(["a_cam", "b_cam", "random_map"]):
        for i in range(4):
            value = 0.1 * (c + 1) + 0.01 * i
            rows.append({"dataset": "d", "model": "m", "cam": cam, "image_id": str(i), "deletion_auc": value})
    frame = pd.DataFrame(rows)
    return frame.assign(insertion_auc=frame["deletion_auc"])


def test_summary_means_ranks_and_directions() -> None:
    frame = _per_image()
    scores = (vocabulary.DELETION_AUC, vocabulary.INSERTION_AUC)
    estimates = trust.score_estimates([frame], scores, n_boot=200, ci=0.9, min_n=2, seed=0)
    np.testing.assert_allclose(estimates["deletion_auc"], [0.115, 0.215, 0.315], rtol=1e-12)
    assert (estimates["deletion_auc_lo"] <= estimates["deletion_auc"]).all()
    assert (estimates["deletion_auc_hi"] >= estimates["deletion_auc"]).all() and (estimates["n_images"] == 4).all()
    rm = pd.DataFrame({"dataset": "d", "model": "m", "cam": ["a_cam", "b_cam", "random_map"], "rm": [0.2, 0.5, 0.5]})
    summary = trust.trust_summary([rm, estimates])
    assert list(summary["cam"]) == ["a_cam", "b_cam", "random_map"] and list(summary["baseline"]) == [
        False,
        False,
        True,
    ]
    assert list(summary["deletion_auc_rank"]) == [1, 2, 3] and list(summary["insertion_auc_rank"]) == [3, 2, 1]
    assert list(summary["deletion_auc_better"]) == ["lower"] * 3 and list(summary["rm_better"]) == ["higher"] * 3
    assert list(summary["rm_rank"]) == [3, 1, 1]  # ties share the best rank
    assert list(summary["faithfulness_rank"]) == [1, 1, 1] and list(summary["robustness_rank"]) == [3, 1, 1]
    with pytest.raises(KeyError):
        summary["localisation_rank"]


def test_friedman_and_nemenyi_across_cams_by_hand() -> None:
    """Every image ranks a < b < c on deletion (lower is better): average ranks 1, 2, 3, Q = n (k - 1)
    W = 4 x 2 x 1 = 8, p = exp(-8/2); Nemenyi q = |R_i - R_j| / sqrt(k (k+1) / (6 n))."""
    tests, pairs = trust.trust_tests([_per_image()], alpha=0.05, n_boot=0, ci=0.95, min_n=2, seed=0)
    deletion = tests.set_index("score").loc["deletion_auc"]
    assert deletion["best"] == "a_cam" and deletion["axis"] == "faithfulness" and deletion["better"] == "lower"
    assert deletion["statistic"] == pytest.approx(8.0) and deletion["p"] == pytest.approx(np.exp(-4.0))
    insertion = tests.set_index("score").loc["insertion_auc"]
    assert insertion["best"] == "random_map"
    q = 2.0 / np.sqrt(3 * 4 / (6 * 4))
    p_ac = scipy_stats.studentized_range.sf(q * np.sqrt(2), 3, np.inf)
    row = pairs[(pairs["score"] == "deletion_auc") & (pairs["a"] == "a_cam") & (pairs["b"] == "random_map")]
    assert row["p_nemenyi"].item() == pytest.approx(p_ac) and row["rank_a"].item() == 1.0
    close = {
        c
        for c in ("b_cam", "random_map")
        if pairs.set_index(["score", "a", "b"]).loc[("deletion_auc", "a_cam", c), "p_nemenyi"] >= 0.05
    }
    assert set(str(deletion["not_different"]).split()) == close


def test_full_randomisation_takes_the_last_stage_and_gives_baselines_one() -> None:
    table = pd.DataFrame(
        {
            "dataset": "d",
            "model": "m",
            "cam": ["gradcam", "gradcam"],
            "stage_index": [1, 2],
            "full_randomisation": [False, True],
            **{f"{name}{end}": [0.9, 0.25] for name in ("rbo", "pixel_spearman", "ssim") for end in ("", "_lo", "_hi")},
        }
    )
    part = trust.full_randomisation(table, ["gradcam", "edge_map", "gradcam"])
    assert list(part["cam"]) == ["edge_map", "gradcam"]
    assert list(part["randomisation_rbo"]) == [1.0, 0.25] and list(part["randomisation_ssim"]) == [1.0, 0.25]
    assert np.isnan(part["randomisation_rbo_lo"].iloc[0]) and part["randomisation_rbo_lo"].iloc[1] == 0.25
    summary = trust.trust_summary([part])
    assert list(summary["randomisation_rbo_better"]) == ["lower"] * 2
    assert list(summary["randomisation_rbo_rank"]) == [2, 1] and list(summary["model_dependence_rank"]) == [2, 1]


def test_worst_case_consistency_is_the_mean_r_over_the_attack_pairs() -> None:
    """Two images at two budgets, r = 0.9, 0.7 (image 0) and 0.5, 0.3 (image 1): C = 0.6."""
    rows = pd.DataFrame(
        {
            "dataset": "d",
            "model": "m",
            "cam": "gradcam",
            "image_id": ["0", "0", "1", "1"],
            "changed": False,
            "rbo": [0.9, 0.7, 0.5, 0.3],
        }
    )
    part = trust.worst_case_consistency([(("d", "m", "gradcam"), rows)], n_boot=0, ci=0.95, min_n=1, seed=0)
    assert part["worst_case_consistency"].item() == pytest.approx(0.6, abs=1e-15)
    assert list(part.columns) == [
        "dataset",
        "model",
        "cam",
        "worst_case_consistency",
        "worst_case_consistency_lo",
        "worst_case_consistency_hi",
    ]
