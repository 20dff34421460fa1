"""Stage functions run without Snakemake: store layouts, raw maps, and results independent of chunking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from camrobust import cams, datasets, models, vocabulary
from camrobust.analysis.summary import robustness_summary
from camrobust.core.maps import feature_maps
from camrobust.io.images import read_images
from camrobust.io.maps import pixel_maps
from camrobust.io.store import open_store, read_array
from camrobust.io.tables import read_score_groups
from camrobust.stages import cams as cam_stages
from camrobust.stages import features, get_model, noisy_images, score, segment, stage_data, summarise
from tests.test_datasets import _write_mixed_folder
from tests.untrained import save_untrained_small_vgg

N_IMAGES, SIZE = 10, 32
NOISE = {"noise_name": "gaussian_noise", "severities": [2, 5], "params": None, "seed": 0, "namespace": "tiny"}


@pytest.fixture(scope="module")
def stage_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A staged shapes dataset, a small untrained CNN with its card, a noise store, its predictions,
    features and raw CAM stores, and the segments."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("stages")
    names = ["eval", "noisy", "segments", "clean_pred", "noisy_pred", "clean_feat", "noisy_feat"]
    paths = {name: root / f"{name}.zarr" for name in names}
    paths |= {"card": root / "card.json", "weights": root / "weights.pt"}
    spec = {"kind": "shapes", "variant": "cluttered", "n_images": N_IMAGES, "image_size": SIZE}
    stage_data.stage_images(spec=spec, split="eval", seed=0, out=paths["eval"])
    save_untrained_small_vgg(paths["weights"], paths["card"], size=SIZE)
    noisy_images.perturb_images(**NOISE, clean_store=paths["eval"], out=paths["noisy"])
    segment.segment_images(clean_store=paths["eval"], method="slic", params=None, out=paths["segments"])
    model_files = {"card_path": paths["card"], "weights_path": paths["weights"], "device": "cpu"}
    for condition, images in (("clean", paths["eval"]), ("noisy", paths["noisy"])):
        predictions, stored_features = paths[f"{condition}_pred"], paths[f"{condition}_feat"]
        features.predict_images(
            images_store=images,
            labels_store=paths["eval"],
            target_mode="predicted",
            batch_size=32,
            out=predictions,
            **model_files,
        )
        maps = {method: root / f"{condition}_{method}.zarr" for method in ("gradcam", "eigencam")}
        features.extract_features(
            images_store=images,
            predictions_store=predictions,
            batch_size=32,
            precision="float32",
            out=stored_features,
            cam_stores=maps,
            **model_files,
        )
        paths |= {f"{condition}_{method}": path for method, path in maps.items()}
    return paths


def _store_files(path: Path) -> dict[str, bytes]:
    return {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file()}


def test_staged_shapes_do_not_depend_on_the_chunk_size(tmp_path: Path) -> None:
    """Shapes generated 5 images at a time and staged chunk by chunk: the pixels of one whole generation."""
    spec = {"kind": "shapes", "variant": "cluttered", "n_images": 23, "image_size": 32}
    whole = datasets.generate_shapes(23, 32, "cluttered", 0)
    n, chunks = datasets.stage_dataset_chunks(spec, "eval", 0, chunk_size=5)
    assert n == 23 and [len(chunk) for chunk in chunks] == [5, 5, 5, 5, 3]
    stage_data.stage_images(spec=spec, split="eval", seed=0, out=tmp_path / "eval.zarr")
    staged = read_images(tmp_path / "eval.zarr")
    assert np.array_equal(staged.images, whole.images) and np.array_equal(staged.masks, whole.masks)
    assert staged.ids == whole.ids and np.array_equal(staged.labels, whole.labels)


@pytest.mark.filterwarnings("ignore:skipped 1 unreadable image")
@pytest.mark.parametrize("split", ["eval", "train"])
def test_staged_folder_store_equals_the_staged_set(tmp_path: Path, split: str) -> None:
    """A folder with a skipped file staged 2 images at a time: the store holds stage_dataset's set."""
    root = tmp_path / "images"
    _write_mixed_folder(root)
    spec = {"kind": "imagefolder", "root": str(root), "n_images": 2, "image_size": 32, "skip_corrupt": True}
    stage_data.stage_images(spec=spec, split=split, seed=3, out=tmp_path / "images.zarr", chunk_size=2)
    whole = datasets.stage_dataset(spec, split, 3)
    staged = read_images(tmp_path / "images.zarr")
    assert len(whole) == (2 if split == "eval" else 3)
    assert staged.images.tobytes() == whole.images.tobytes() and staged.images.shape == whole.images.shape
    assert staged.ids == whole.ids and np.array_equal(staged.labels, whole.labels) and staged.masks is None
    attrs = dict(open_store(tmp_path / "images.zarr").attrs)
    assert attrs["class_names"] == ["cat", "dog"] and attrs["split"] == split and attrs["spec"] == spec
    assert attrs["skipped"] == whole.skipped == [str(root / "dog" / "broken.png")]


def test_noisy_store_holds_every_severity_and_is_reproducible(stage_inputs: dict[str, Path], tmp_path: Path) -> None:
    images = read_array(stage_inputs["noisy"], "images")
    assert images.shape == (10, 2, 32, 32, 3) and images.dtype == np.uint8
    assert read_array(stage_inputs["noisy"], "severity").tolist() == [2, 5]
    clean = read_array(stage_inputs["eval"], "images").astype(float)
    residual = [np.std(images[:, s] - clean) for s in range(2)]
    assert residual[0] < residual[1]
    again = tmp_path / "again.zarr"
    noisy_images.perturb_images(**{**NOISE, "severities": [5]}, clean_store=stage_inputs["eval"], out=again)
    assert np.array_equal(read_array(again, "images")[:, 0], images[:, 1])


def test_cam_stores_hold_relu_raw_maps_on_the_layer_grid(stage_inputs: dict[str, Path]) -> None:
    group = open_store(stage_inputs["noisy_gradcam"])
    activations = read_array(stage_inputs["noisy_feat"], "activations")
    assert group["maps"].shape == (N_IMAGES, 2, *activations.shape[-2:])
    assert group["maps"].shape[-1] < SIZE and float(np.min(group["maps"][...])) >= 0
    assert list(group.attrs["image_size"]) == [SIZE, SIZE]


@pytest.mark.parametrize("method", ["gradcam", "eigencam"])
def test_gradient_maps_on_read_equal_the_full_resolution_path(stage_inputs: dict[str, Path], method: str) -> None:
    """pixel_maps(raw store) vs cams.gradient_family on the same features: the same float32 operations
    in the same order, so equal to the last bit."""
    activations = torch.from_numpy(read_array(stage_inputs["noisy_feat"], "activations")).flatten(0, 1)
    gradients = torch.from_numpy(read_array(stage_inputs["noisy_feat"], "gradients")).flatten(0, 1)
    previous = cams.gradient_family(activations, gradients, [method], (SIZE, SIZE))[method].numpy()
    on_read = pixel_maps(open_store(stage_inputs[f"noisy_{method}"]), slice(None))
    assert on_read.shape == (N_IMAGES, 2, SIZE, SIZE)
    np.testing.assert_array_equal(on_read.reshape(-1, SIZE, SIZE), previous)


@pytest.mark.parametrize("method", ["scorecam", "ablationcam"])
def test_model_maps_on_read_equal_the_full_resolution_path(
    stage_inputs: dict[str, Path], tmp_path: Path, method: str
) -> None:
    """pixel_maps(raw store) vs cams.model_cams on the same batch: equal to the last bit."""
    out = tmp_path / f"{method}.zarr"
    cam_stages.model_cam_maps(
        images_store=stage_inputs["noisy"],
        predictions_store=stage_inputs["noisy_pred"],
        card_path=stage_inputs["card"],
        weights_path=stage_inputs["weights"],
        method=method,
        batch_size=32,
        channel_batch_size=7,
        device="cpu",
        out=out,
    )
    model, card = get_model.load_model(stage_inputs["card"], stage_inputs["weights"], "cpu")
    images = read_array(stage_inputs["noisy"], "images").reshape(-1, SIZE, SIZE, 3)
    inputs = models.to_model_input(images, card.mean, card.std, torch.device("cpu"))
    targets = torch.from_numpy(read_array(stage_inputs["noisy_pred"], "target").reshape(-1))
    previous = cams.model_cams(model, card.target_layer, inputs, targets, [method], batch_size=7)[method].numpy()
    np.testing.assert_array_equal(pixel_maps(open_store(out), slice(None)).reshape(-1, SIZE, SIZE), previous)
    assert np.array_equal(pixel_maps(open_store(out), [7, 2]), pixel_maps(open_store(out), slice(None))[[7, 2]])


def test_chunk_sizes_give_identical_stores(stage_inputs: dict[str, Path], tmp_path: Path) -> None:
    """Noise, segments, gradient CAMs and scores streamed over chunks of 1, 7 and N images: the same bytes."""
    written: dict[str, list[dict[str, bytes]]] = {"noisy": [], "segments": [], "gradcam": []}
    tables = []
    for chunk in (1, 7, N_IMAGES):
        root = tmp_path / str(chunk)
        noisy_images.perturb_images(
            **NOISE, clean_store=stage_inputs["eval"], out=root / "noisy.zarr", chunk_size=chunk
        )
        segment.segment_images(
            clean_store=stage_inputs["eval"], method="slic", params=None, out=root / "segments.zarr", chunk_size=chunk
        )
        cam_stages.gradient_cam_maps(
            features_store=stage_inputs["noisy_feat"],
            method="gradcam",
            image_size=(SIZE, SIZE),
            out=root / "gradcam.zarr",
            chunk_size=chunk,
        )
        for name, stores in written.items():
            stores.append(_store_files(root / f"{name}.zarr"))
        score.score_cams(
            clean_store=stage_inputs["eval"],
            segments_store=stage_inputs["segments"],
            clean_predictions=stage_inputs["clean_pred"],
            noisy_predictions=stage_inputs["noisy_pred"],
            clean_cams=stage_inputs["clean_gradcam"],
            noisy_cams=stage_inputs["noisy_gradcam"],
            keys={"cam": "gradcam"},
            rbo_p=0.9,
            topk=0.2,
            out=root / "scores.parquet",
            chunk_size=chunk,
        )
        table = pd.read_parquet(root / "scores.parquet").sort_values(["severity", "image_id"], ignore_index=True)
        tables.append(table)
    for name, stores in written.items():
        assert stores[0] == stores[1] == stores[2], name
    assert np.array_equal(
        written["noisy"][0]["images/c/0/0/0/0/0"], _store_files(stage_inputs["noisy"])["images/c/0/0/0/0/0"]
    )
    assert len(tables[0]) == 2 * N_IMAGES
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)
    pd.testing.assert_frame_equal(tables[0], tables[2], check_exact=True)


def test_every_store_is_a_few_files_and_opens_with_xarray(stage_inputs: dict[str, Path]) -> None:
    for name, path in stage_inputs.items():
        if path.suffix != ".zarr":
            continue
        files = [f for f in path.rglob("*") if f.is_file()]
        assert len(files) <= 2 * len(open_store(path)) + 1, name  # per array: metadata + one shard
        dataset = xr.open_zarr(path)
        assert all(dataset[variable].dims for variable in dataset.data_vars), name
    maps = xr.open_zarr(stage_inputs["noisy_gradcam"])["maps"]
    assert maps.dims == ("image", "severity", "h", "w")


def test_features_job_maps_equal_the_maps_from_its_stored_features(
    stage_inputs: dict[str, Path], tmp_path: Path
) -> None:
    """Every built-in gradient-family map written by the features job (model batches of 3) equals
    the one computed later from its float32 store (one chunk): each map comes from its image's
    own slices, whichever images share the batch (one thread)."""
    stored, maps = (
        tmp_path / "features.zarr",
        {method: tmp_path / f"{method}.zarr" for method in cams.GRADIENT_METHODS},
    )
    features.extract_features(
        images_store=stage_inputs["noisy"],
        predictions_store=stage_inputs["noisy_pred"],
        card_path=stage_inputs["card"],
        weights_path=stage_inputs["weights"],
        batch_size=3,
        precision="float32",
        device="cpu",
        out=stored,
        cam_stores=maps,
    )
    for method, path in maps.items():
        later = tmp_path / f"{method}-later.zarr"
        cam_stages.gradient_cam_maps(
            features_store=stored, method=method, image_size=(SIZE, SIZE), out=later, chunk_size=N_IMAGES
        )
        assert open_store(path).attrs["cam"] == method
        assert np.array_equal(read_array(path, "maps"), read_array(later, "maps")), method
        assert np.array_equal(read_array(path, "severity"), [2, 5])


@pytest.mark.parametrize("method", ["eigencam", "eigengradcam", "gradcampp"])
def test_feature_maps_do_not_depend_on_the_callers_thread_count(method: str) -> None:
    """The features job runs on 2 torch threads, a gradient_cams job on 1: the maps agree bit for
    bit. 64 images of 64 x 16 x 16 (the demo CNNs' grid): enough for LAPACK's SVD to split its work
    on 2 threads, which changes EigenCAM's rounding when nothing pins the thread count."""
    generator = torch.Generator().manual_seed(0)
    activations = (torch.rand((64, 1, 64, 16, 16), generator=generator) - 0.3).clamp_min(0).numpy()
    gradients = torch.randn((64, 1, 64, 16, 16), generator=generator).numpy()
    threads = torch.get_num_threads()
    maps = {}
    try:
        for n_threads in (2, 1):
            torch.set_num_threads(n_threads)
            maps[n_threads] = feature_maps(method, activations, gradients)
            assert torch.get_num_threads() == n_threads  # the caller's setting is restored
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(maps[2], maps[1])


def test_float16_features_change_maps_within_half_precision(stage_inputs: dict[str, Path], tmp_path: Path) -> None:
    """float16 keeps about 3 significant digits: maps (in [0, 1]) move by well under 1e-2."""
    half = tmp_path / "half.zarr"
    features.extract_features(
        images_store=stage_inputs["noisy"],
        predictions_store=stage_inputs["noisy_pred"],
        card_path=stage_inputs["card"],
        weights_path=stage_inputs["weights"],
        batch_size=32,
        precision="float16",
        device="cpu",
        out=half,
        cam_stores={},
    )
    assert open_store(half)["activations"].dtype == np.float16
    cam_stages.gradient_cam_maps(
        features_store=half, method="gradcam", image_size=(SIZE, SIZE), out=tmp_path / "gradcam.zarr"
    )
    full = pixel_maps(open_store(stage_inputs["noisy_gradcam"]), slice(None))
    reduced = pixel_maps(open_store(tmp_path / "gradcam.zarr"), slice(None))
    assert 0 < np.abs(full - reduced).max() < 1e-2


# Another batch size may make the model's float32 kernels sum in another order. A captured value is
# at the end of L = 5 layers (small_vgg: 4 convolutions and the linear head) of sums of at most
# K = 9 * 64 = 576 products; reordering a K-term sum moves it by at most K * 2^-24 of the sum of its
# terms' magnitudes (Higham, Accuracy and Stability of Numerical Algorithms, 3.1), taken here at
# the scale of the largest value: FEATURE_ERROR relative to max |x|.
FEATURE_ERROR = 5 * 576 * 2.0**-24


@pytest.mark.parametrize("method", ["gradcam", "eigencam", "scorecam", "ablationcam"])
def test_maps_do_not_depend_on_the_batch_size(stage_inputs: dict[str, Path], tmp_path: Path, method: str) -> None:
    """Model batches of 32 and 3 images: the same predictions and targets, logits and features equal
    up to FEATURE_ERROR, and identical maps (below)."""
    model_files = {"card_path": stage_inputs["card"], "weights_path": stage_inputs["weights"], "device": "cpu"}
    predictions, stored = {}, {}
    for batch_size in (32, 3):
        predictions[batch_size] = tmp_path / f"pred-{batch_size}.zarr"
        stored[batch_size] = tmp_path / f"features-{batch_size}.zarr"
        features.predict_images(
            images_store=stage_inputs["noisy"],
            labels_store=stage_inputs["eval"],
            target_mode="predicted",
            batch_size=batch_size,
            out=predictions[batch_size],
            **model_files,
        )
        features.extract_features(
            images_store=stage_inputs["noisy"],
            predictions_store=predictions[batch_size],
            batch_size=batch_size,
            precision="float32",
            out=stored[batch_size],
            cam_stores={},
            **model_files,
        )
    for name in ("pred", "target"):
        assert np.array_equal(read_array(predictions[32], name), read_array(predictions[3], name))
    assert read_array(predictions[32], "pred").shape == (10, 2)
    for name, stores in (("logits", predictions), ("activations", stored), ("gradients", stored)):
        values, other = read_array(stores[32], name), read_array(stores[3], name)
        assert np.abs(values - other).max() <= FEATURE_ERROR * np.abs(values).max(), name
    maps = []
    for batch_size in (32, 3):
        out = tmp_path / f"{method}-{batch_size}.zarr"
        if method in ("scorecam", "ablationcam"):
            # image by image: one clean forward, then forwards of 7 of its channels (the last of 1):
            # the same operations on the same values, whichever images share the batch
            cam_stages.model_cam_maps(
                images_store=stage_inputs["noisy"],
                predictions_store=predictions[batch_size],
                method=method,
                batch_size=batch_size,
                channel_batch_size=7,
                out=out,
                **model_files,
            )
        else:
            # from the same features: each map comes from its image's own slices, reduced over
            # channels and cells in the same order whatever the number of images (one thread)
            cam_stages.gradient_cam_maps(
                features_store=stored[32], method=method, image_size=(SIZE, SIZE), out=out, chunk_size=batch_size
            )
        maps.append(pixel_maps(open_store(out), slice(None)))
    assert maps[0].shape == (10, 2, SIZE, SIZE)
    assert np.array_equal(maps[0], maps[1])


def _random_score_table(dataset: str, model: str, noise: str, cam: str, rng: np.random.Generator) -> pd.DataFrame:
    n_images, severities = 15, [1, 3]
    rows = n_images * len(severities)
    table = pd.DataFrame(
        {
            "dataset": dataset,
            "model": model,
            "noise": noise,
            "cam": cam,
            "severity": np.repeat(severities, n_images),
            "image_id": [f"img-{i:03d}" for i in range(n_images)] * len(severities),
            "changed": rng.random(rows) < 0.3,
            "n_regions": rng.integers(5, 30, rows),
        }
    )
    for column in vocabulary.similarity_columns():
        table[column] = rng.random(rows)
    table.loc[rng.random(rows) < 0.05, "rbo"] = np.nan
    return table


def test_summary_streamed_per_score_table_equals_the_whole_tables_summary(tmp_path: Path) -> None:
    """summarise_robustness reads one (dataset, model, noise, cam) at a time, also when a table
    spans several row groups: its rows equal robustness_summary of the whole table, exactly."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    paths = []
    for model in ("cnn", "vit"):
        for noise in ("gaussian_noise", "fgsm"):
            for cam in ("gradcam", "scorecam"):
                paths.append(tmp_path / f"{model}-{noise}-{cam}.parquet")
                _random_score_table("shapes", model, noise, cam, rng).to_parquet(paths[-1])
    collected = tmp_path / "scores.parquet"
    summarise.collect_scores(paths=paths, out=collected)
    whole = pd.read_parquet(collected)
    expected = robustness_summary(whole, attacks=["fgsm"], n_boot=50, ci=0.9, seed=3, min_n=5)
    assert len(expected) == 8 * 3
    small_groups = tmp_path / "small_row_groups.parquet"
    pq.write_table(pa.Table.from_pandas(whole, preserve_index=False), small_groups, row_group_size=7)
    assert pq.ParquetFile(small_groups).num_row_groups > 8 * 30 / 7
    for path in (collected, small_groups):
        streamed = summarise.summarise_robustness(
            scores=path, attacks=["fgsm"], n_boot=50, ci=0.9, seed=3, min_n=5, out=tmp_path / "robustness.csv"
        )
        pd.testing.assert_frame_equal(streamed, expected, check_exact=True)
        keys = list(vocabulary.SCORE_KEYS)
        groups = list(read_score_groups(path, keys, ["rbo"]))
        assert [len(table) for _, table in groups] == [30] * 8
        assert all(set(table[keys].itertuples(index=False, name=None)) == {key} for key, table in groups)
    # scores of metric.topk = 0.1: the summary reads and names their iou_top10
    top10 = tmp_path / "top10.parquet"
    whole.rename(columns={"iou_top20": "iou_top10"}).to_parquet(top10)
    streamed = summarise.summarise_robustness(
        scores=top10, attacks=["fgsm"], n_boot=50, ci=0.9, seed=3, min_n=5, out=tmp_path / "robustness10.csv"
    )
    pd.testing.assert_frame_equal(streamed, expected.rename(columns={"iou_top20": "iou_top10"}), check_exact=True)
