"""Stage functions of the sanity checks without Snakemake: the randomisation and explanation-attack
stores and tables, their summaries, and results independent of the batch size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from camrobust import vocabulary
from camrobust.analysis.summary import KEEPS_PREDICTION, score_table_summary
from camrobust.io.store import open_store, store_writer
from camrobust.stages import features, sanity, segment, stage_data, worst_case
from tests.untrained import save_untrained_small_vgg

N_IMAGES, SIZE = 8, 32
SETTINGS = {"steps": 2, "step_size": 0.25, "restarts": 1, "beta": 10.0, "top_fraction": 0.2}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A staged shapes dataset, a small untrained CNN with its card, the segments and the clean
    predictions."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("sanity")
    paths = {name: root / f"{name}.zarr" for name in ("eval", "segments", "clean_pred")}
    paths |= {"card": root / "card.json", "weights": root / "weights.pt"}
    spec = {"kind": "shapes", "variant": "cluttered", "n_images": N_IMAGES, "image_size": SIZE}
    stage_data.stage_images(spec=spec, split="eval", seed=0, out=paths["eval"])
    save_untrained_small_vgg(paths["weights"], paths["card"], size=SIZE)
    segment.segment_images(clean_store=paths["eval"], method="slic", params=None, out=paths["segments"])
    features.predict_images(
        images_store=paths["eval"],
        labels_store=paths["eval"],
        card_path=paths["card"],
        weights_path=paths["weights"],
        target_mode="predicted",
        batch_size=32,
        device="cpu",
        out=paths["clean_pred"],
    )
    return paths


def _randomise(inputs: dict[str, Path], out: Path, *, method: str, batch_size: int, stages=None) -> pd.DataFrame:
    sanity.randomise_model(
        clean_store=inputs["eval"],
        segments_store=inputs["segments"],
        predictions_store=inputs["clean_pred"],
        card_path=inputs["card"],
        weights_path=inputs["weights"],
        method=method,
        keys={"dataset": "tiny", "model": "vgg", "cam": method},
        n_images=6,
        stages=stages,
        rbo_p=0.9,
        topk=0.2,
        seed=0,
        batch_size=batch_size,
        channel_batch_size=16,
        device="cpu",
        out=out,
    )
    return pd.read_parquet(out)


def _attack(inputs: dict[str, Path], out: Path, *, batch_size: int, method: str = "gradcam") -> None:
    worst_case.attack_cam(
        clean_store=inputs["eval"],
        segments_store=inputs["segments"],
        card_path=inputs["card"],
        weights_path=inputs["weights"],
        method=method,
        severities=[1, 5],
        params=None,
        settings=SETTINGS,
        rbo_p=0.9,
        target_mode="predicted",
        seed=0,
        namespace="tiny",
        batch_size=batch_size,
        device="cpu",
        out=out,
    )


def test_the_subset_is_evenly_spaced_and_never_longer_than_the_dataset() -> None:
    assert sanity.subset_indices(10, 4).tolist() == [0, 2, 5, 7]  # floor(i * 10 / 4)
    assert sanity.subset_indices(3, 50).tolist() == [0, 1, 2]


def test_randomisation_table_has_a_row_per_image_and_stage_and_ignores_the_batch_size(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    one = _randomise(inputs, tmp_path / "one.parquet", method="eigencam", batch_size=6)
    split = _randomise(inputs, tmp_path / "split.parquet", method="eigencam", batch_size=4)
    ids = [str(i) for i in open_store(inputs["eval"])["ids"][...]]
    assert one["image_id"].tolist() == [ids[i] for i in sanity.subset_indices(N_IMAGES, 6) for _ in range(2)]
    # small_vgg's derived stages, logits first
    assert one["stage"].tolist()[:2] == ["classifier", "features"] and one["stage_index"].tolist()[:2] == [1, 2]
    # EigenCAM reads only the activations of features: randomising the classifier leaves it exactly
    for name in (vocabulary.RBO.name, vocabulary.PIXEL_SPEARMAN.name, vocabulary.SSIM.name):
        first = one.loc[one["stage_index"] == 1, name].to_numpy()
        np.testing.assert_allclose(first, 1.0, atol=1e-6)
        # float32 maps of a batched convolution: a batch of 4 or 6 rounds alike to ~1e-6
        np.testing.assert_allclose(split[name].to_numpy(), one[name].to_numpy(), atol=1e-5)
    assert (one[["dataset", "model", "cam"]].drop_duplicates().to_numpy() == [["tiny", "vgg", "eigencam"]]).all()


def test_stages_that_are_not_modules_name_the_config_option(inputs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'nope' is not a module of SmallVGG.*randomisation: \{stages: \{vgg"):
        _randomise(inputs, tmp_path / "bad.parquet", method="gradcam", batch_size=6, stages=["nope"])


def test_randomisation_summary_means_and_intervals(tmp_path: Path) -> None:
    rows = []
    for image, (rbo, rho) in enumerate([(0.2, 1.0), (0.4, 1.0), (0.6, 1.0)]):
        for stage_index, stage in ((1, "fc"), (2, "conv")):
            rows.append(
                {
                    "dataset": "d",
                    "model": "m",
                    "cam": "gradcam",
                    "image_id": str(image),
                    "stage_index": stage_index,
                    "stage": stage,
                    "rbo": rbo,
                    "pixel_spearman": rho,
                    "ssim": np.nan if image == 0 else 0.5,
                }
            )
    pd.DataFrame(rows).to_parquet(tmp_path / "t.parquet")
    table = sanity.summarise_randomisation(
        tables=[tmp_path / "t.parquet"], n_boot=200, ci=0.9, seed=0, min_n=2, out=tmp_path / "s.csv"
    )
    assert table["stage"].tolist() == ["fc", "conv"] and table["full_randomisation"].tolist() == [False, True]
    np.testing.assert_allclose(table["rbo"], 0.4, rtol=1e-12)  # (0.2 + 0.4 + 0.6) / 3
    assert ((table["rbo_lo"] >= 0.2) & (table["rbo_hi"] <= 0.6) & (table["rbo_lo"] < table["rbo_hi"])).all()
    # a constant similarity: every replicate mean is that constant
    assert (table[["pixel_spearman", "pixel_spearman_lo", "pixel_spearman_hi"]].to_numpy() == 1.0).all()
    # the NaN ssim pair is left out: 2 images, mean 0.5
    assert table["ssim"].tolist() == [0.5, 0.5]
    thin = sanity.summarise_randomisation(
        tables=[tmp_path / "t.parquet"], n_boot=200, ci=0.9, seed=0, min_n=3, out=tmp_path / "thin.csv"
    )
    assert thin["ssim_lo"].isna().all() and thin["reason"].tolist() == ["images_ssim = 2 < 3"] * 2
    assert not thin["rbo_lo"].isna().any()


def test_every_accepted_image_keeps_its_class_and_the_store_ignores_the_batch_size(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    _attack(inputs, tmp_path / "a.zarr", batch_size=8)
    _attack(inputs, tmp_path / "b.zarr", batch_size=3)
    a, b = open_store(tmp_path / "a.zarr"), open_store(tmp_path / "b.zarr")
    clean_pred = np.asarray(open_store(inputs["clean_pred"])["pred"][:, 0])
    assert (np.asarray(a["pred"]) == clean_pred[:, None]).all()
    assert np.asarray(a["severity"]).tolist() == [1, 5]
    images, clean = np.asarray(a["images"]).astype(int), np.asarray(open_store(inputs["eval"])["images"]).astype(int)
    budgets = np.abs(images - clean[:, None]).max(axis=(0, 2, 3, 4))
    assert budgets.tolist()[0] <= 1 and budgets.tolist()[1] <= 16  # eps = 1/255 and 16/255, exact on uint8
    rbo = np.asarray(a["rbo"])
    assert ((rbo <= 1 + 1e-12) & (rbo >= 0)).all()
    assert (rbo[~np.asarray(a["found"])] == 1.0).all()  # no accepted iterate: the clean image, RBO 1
    assert a.attrs["source_cam"] == "gradcam" and a.attrs["transfer"] is False and a.attrs["cam"] == "gradcam"
    np.testing.assert_array_equal(np.asarray(a["images"]), np.asarray(b["images"]))
    np.testing.assert_array_equal(np.asarray(a["pred"]), np.asarray(b["pred"]))
    np.testing.assert_allclose(np.asarray(a["maps"]), np.asarray(b["maps"]), atol=1e-5)


def test_a_transfer_attack_reuses_the_source_images(inputs: dict[str, Path], tmp_path: Path) -> None:
    _attack(inputs, tmp_path / "gradcam.zarr", batch_size=8)
    worst_case.transfer_attack(
        source_store=tmp_path / "gradcam.zarr",
        clean_store=inputs["eval"],
        segments_store=inputs["segments"],
        card_path=inputs["card"],
        weights_path=inputs["weights"],
        method="scorecam",
        rbo_p=0.9,
        batch_size=8,
        channel_batch_size=16,
        device="cpu",
        out=tmp_path / "scorecam.zarr",
    )
    source, transfer = open_store(tmp_path / "gradcam.zarr"), open_store(tmp_path / "scorecam.zarr")
    np.testing.assert_array_equal(np.asarray(transfer["images"]), np.asarray(source["images"]))
    np.testing.assert_array_equal(np.asarray(transfer["pred"]), np.asarray(source["pred"]))
    assert transfer.attrs["source_cam"] == "gradcam" and transfer.attrs["transfer"] is True
    assert transfer.attrs["cam"] == "scorecam" and transfer["maps"].shape[:2] == (N_IMAGES, 2)


def test_a_changed_class_is_refused() -> None:
    with pytest.raises(
        RuntimeError, match=r"1 accepted image\(s\) changed the predicted class, e.g. image 5 .* 2 -> 3"
    ):
        worst_case.check_kept_class(np.array([[1, 1], [2, 3]]), np.array([1, 2]), slice(4, 6))
    worst_case.check_kept_class(np.array([[1, 1], [2, 2]]), np.array([1, 2]), slice(0, 2))


def test_an_explanation_attack_has_no_responsiveness_and_says_why() -> None:
    scores = pd.DataFrame(
        {
            "dataset": "d",
            "model": "m",
            "noise": "explanation_attack",
            "cam": "gradcam",
            "severity": 1,
            "image_id": [str(i) for i in range(4)],
            "changed": False,
            vocabulary.RBO.name: [0.5, 0.7, 0.9, 0.3],
            vocabulary.N_REGIONS: 20,
            **{name: 0.5 for name in vocabulary.similarity_columns() if name != vocabulary.RBO.name},
        }
    )
    summary = score_table_summary(scores, attacks=["fgsm"], n_boot=0, ci=0.95, seed=0, min_n=2)
    assert summary["consistency"].tolist() == pytest.approx([0.6, 0.6])  # (0.5 + 0.7 + 0.9 + 0.3) / 4
    assert summary["responsiveness"].isna().all() and summary["rm"].isna().all()
    assert summary["reason"].tolist() == [KEEPS_PREDICTION] * 2


def _fake_attack_store(path: Path, cam: str, source: str, found: np.ndarray) -> None:
    with store_writer(path, {"cam": cam, "source_cam": source}) as writer:
        writer.add("found", found, ("image", "severity"))
        writer.add("severity", np.array([1, 5]), ("severity",))


def test_worst_case_table_puts_uniform_noise_of_the_same_budget_beside_the_attack(tmp_path: Path) -> None:
    rows = []
    values = {("explanation_attack", 1): 0.9, ("explanation_attack", 5): 0.5, ("uniform_noise", 1): 0.95}
    for cam in ("gradcam", "scorecam"):
        for (noise, severity), c in values.items():
            rows.append(
                {"dataset": "d", "model": "m", "cam": cam, "noise": noise, "severity": str(severity), "n": 4}
                | {"consistency": c, "consistency_lo": c - 0.1, "consistency_hi": c + 0.05, "reason": ""}
            )
        rows.append({"dataset": "d", "model": "m", "cam": cam, "noise": "explanation_attack", "severity": "all"})
    pd.DataFrame(rows).to_csv(tmp_path / "robustness.csv", index=False)
    _fake_attack_store(tmp_path / "g.zarr", "gradcam", "gradcam", np.array([[True, True], [False, True]]))
    _fake_attack_store(tmp_path / "s.zarr", "scorecam", "gradcam", np.array([[True, True], [False, True]]))
    table = worst_case.summarise_worst_case(
        robustness=tmp_path / "robustness.csv",
        stores={"d/m/gradcam": tmp_path / "g.zarr", "d/m/scorecam": tmp_path / "s.zarr"},
        budgets={1: 1 / 255, 5: 16 / 255},
        out=tmp_path / "worst_case.csv",
    )
    assert list(table.columns) == list(worst_case.WORST_CASE_COLUMNS)
    assert table["budget"].tolist() == [1.0, 16.0, 1.0, 16.0]
    assert table["transfer"].tolist() == [False, False, True, True]
    assert table["source_cam"].tolist() == ["gradcam"] * 4
    assert table["found_rate"].tolist() == [0.5, 1.0, 0.5, 1.0]
    assert table[vocabulary.WORST_CASE_CONSISTENCY.name].tolist() == [0.9, 0.5, 0.9, 0.5]
    assert table["gap"].iloc[0] == pytest.approx(0.05)  # 0.95 - 0.9
    assert np.isnan(table["gap"].iloc[1]) and table["reason"].iloc[1] == "no uniform_noise at this severity"


def test_the_figures_draw_their_tables(tmp_path: Path) -> None:
    from camrobust import plots

    randomisation = pd.DataFrame(
        {
            "dataset": "d",
            "model": "m",
            "cam": ["gradcam", "gradcam", "eigencam", "eigencam"],
            "stage_index": [1, 2, 1, 2],
            "stage": ["fc", "conv", "fc", "conv"],
            **{f"{name}{end}": [0.5, 0.1, 1.0, 0.4] for name in sanity.SIMILARITIES for end in ("", "_lo", "_hi")},
        }
    )
    assert plots.randomisation(randomisation, tmp_path / "r.png") is randomisation
    worst = pd.DataFrame(
        {
            "dataset": "d",
            "model": "m",
            "cam": ["gradcam", "gradcam", "ablationcam", "ablationcam"],
            "budget": [1.0, 16.0, 1.0, 16.0],
            "transfer": [False, False, True, True],
            vocabulary.WORST_CASE_CONSISTENCY.name: [0.9, 0.4, 0.95, 0.7],
            "uniform_consistency": [0.99, 0.8, 0.99, 0.85],
        }
    )
    assert plots.worst_case(worst, tmp_path / "w.png") is worst
    assert (tmp_path / "r.png").stat().st_size > 0 and (tmp_path / "w.png").stat().st_size > 0
    with pytest.raises(ValueError, match="randomisation table is empty"):
        plots.randomisation(randomisation.iloc[:0], tmp_path / "e.png")
