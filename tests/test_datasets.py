"""Datasets: synthetic shapes, ImageFolder staging (modes, corrupt and small files), subsets,
staging chunk by chunk (folders, CIFAR-10), offline downloads."""

from __future__ import annotations

import pickle
import socket
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
import torchvision.transforms as T
from PIL import Image

from camrobust import datasets, registry
from camrobust.datasets import (
    CorruptImageError,
    DownloadError,
    ImageTooSmallError,
    class_balanced_order,
    class_balanced_subset,
    generate_shapes,
    resize_center_crop,
    stage_dataset,
    stage_dataset_chunks,
    to_rgb,
)
from camrobust.downloads import PROBE_TIMEOUT_S

Staged = TypeVar("Staged")

# ------------------------------------------------------------------------------ shapes


@pytest.mark.parametrize("variant", ["plain", "cluttered"])
def test_shapes_same_seed_gives_identical_bytes(variant: str) -> None:
    first = generate_shapes(40, 32, variant, seed=3)
    second = generate_shapes(40, 32, variant, seed=3)
    other = generate_shapes(40, 32, variant, seed=4)
    assert first.images.dtype == np.uint8 and first.images.shape == (40, 32, 32, 3)
    assert first.images.tobytes() == second.images.tobytes()
    assert first.masks.tobytes() == second.masks.tobytes()
    assert np.array_equal(first.labels, second.labels) and first.ids == second.ids
    assert first.images.tobytes() != other.images.tobytes()


def test_eval_and_train_streams_share_no_image() -> None:
    evaluation = generate_shapes(300, 32, "plain", seed=0, split="eval")
    training = generate_shapes(300, 32, "plain", seed=0, split="train")
    eval_bytes = {image.tobytes() for image in evaluation.images}
    assert len(eval_bytes) == 300
    assert not eval_bytes & {image.tobytes() for image in training.images}
    assert evaluation.ids[17] == "eval-000017" and training.ids[0] == "train-000000"


@pytest.mark.parametrize(("n", "counts"), [(60, [10] * 6), (64, [11, 11, 11, 11, 10, 10])])
def test_shapes_classes_are_balanced(n: int, counts: list[int]) -> None:
    shapes = generate_shapes(n, 32, "plain", seed=0)
    assert np.bincount(shapes.labels, minlength=6).tolist() == counts
    assert shapes.labels.dtype == np.int64
    assert shapes.class_names == ["circle", "square", "triangle", "cross", "ring", "diamond"]
    assert shapes.labels[:12].tolist() != sorted(shapes.labels[:12].tolist())  # shuffled


@pytest.mark.parametrize("variant", ["plain", "cluttered"])
def test_masks_cover_the_uniformly_coloured_object(variant: str) -> None:
    shapes = generate_shapes(48, 64, variant, seed=5)
    for image, mask in zip(shapes.images, shapes.masks, strict=True):
        assert 40 <= mask.sum() <= 0.25 * mask.size
        object_colours = np.unique(image[mask], axis=0)
        assert len(object_colours) == 1
        outside = image[~mask].astype(int)
        assert np.abs(outside - object_colours[0].astype(int)).max(axis=1).min() > 0
    plain = shapes if variant == "plain" else generate_shapes(48, 64, "plain", seed=5)
    for image, mask in zip(plain.images, plain.masks, strict=True):
        background = np.unique(image[~mask], axis=0)
        assert len(background) == 1
        assert np.abs(background[0].astype(int) - image[mask][0].astype(int)).max() >= 50


def test_cluttered_background_varies_more_than_plain() -> None:
    plain = generate_shapes(24, 64, "plain", seed=2)
    cluttered = generate_shapes(24, 64, "cluttered", seed=2)
    plain_std = [image[~mask].astype(float).std(axis=0).mean() for image, mask in zip(plain.images, plain.masks)]
    cluttered_std = [
        image[~mask].astype(float).std(axis=0).mean() for image, mask in zip(cluttered.images, cluttered.masks)
    ]
    assert max(plain_std) == 0.0
    assert min(cluttered_std) > 5.0
    assert np.array_equal(plain.masks, cluttered.masks)  # the same objects on other backgrounds


def test_distractors_are_never_the_class_object() -> None:
    labels = np.arange(60) % 6
    draws = datasets.shapes._draw_all(labels, 64, "eval", 0)
    assert (draws.distractor_kind != labels[:, None]).all()
    assert all(len(set(kinds)) == 3 for kinds in draws.distractor_kind.tolist())
    quadrants = np.floor(draws.distractor_center / 32).astype(int)
    slots = quadrants[..., 0] + 2 * quadrants[..., 1]
    assert all(sorted([q, *s]) == [0, 1, 2, 3] for q, s in zip(draws.quadrant, slots.tolist(), strict=True))


def test_every_dataset_kind_has_a_stager() -> None:
    assert tuple(datasets.staging.STAGERS) == registry.DATASET_KINDS


def test_shapes_bad_arguments_name_the_key() -> None:
    with pytest.raises(ValueError, match="variant: 'noisy' unknown; allowed: plain, cluttered"):
        generate_shapes(4, 32, "noisy", seed=0)
    with pytest.raises(ValueError, match="n_classes: 9"):
        generate_shapes(4, 32, "plain", seed=0, n_classes=9)


def test_stage_shapes_spec() -> None:
    spec = {
        "kind": "shapes",
        "variant": "cluttered",
        "n_images": 20,
        "n_train": 30,
        "image_size": 32,
        "n_classes": 4,
    }
    evaluation = stage_dataset(spec, "eval", seed=9)
    training = stage_dataset(spec, "train", seed=9)
    assert evaluation.images.shape == (20, 32, 32, 3) and len(training) == 30
    assert np.array_equal(evaluation.images, generate_shapes(20, 32, "cluttered", 9, n_classes=4).images)
    assert set(training.labels.tolist()) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="kind: 'mnist' unknown; allowed: shapes, imagefolder"):
        stage_dataset({"kind": "mnist"}, "eval", seed=0)


# ------------------------------------------------------------------------------ subsets


def test_class_balanced_subset_is_balanced_and_deterministic() -> None:
    labels = np.array([0] * 50 + [1] * 10 + [2] * 30)
    subset = class_balanced_subset(labels, 24, seed=1)
    assert np.bincount(labels[subset]).tolist() == [8, 8, 8]
    assert np.array_equal(subset, class_balanced_subset(labels, 24, seed=1))
    assert not np.array_equal(subset, class_balanced_subset(labels, 24, seed=2))
    assert np.array_equal(subset, np.sort(subset))
    assert np.bincount(labels[class_balanced_subset(labels, 40, seed=1)]).tolist() == [15, 10, 15]
    assert np.array_equal(class_balanced_subset(labels, 500, seed=1), np.arange(90))


# ------------------------------------------------------------------------------ real images


def test_resize_center_crop_matches_torchvision() -> None:
    rng = np.random.default_rng(0)
    for height, width in [(40, 50), (77, 33), (32, 32)]:
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        reference = T.Compose([T.Resize(37), T.CenterCrop(32)])(Image.fromarray(rgb))
        assert np.array_equal(resize_center_crop(rgb, 32), np.asarray(reference))


def _write_mixed_folder(root: Path) -> dict[str, np.ndarray]:
    """cat/: RGB, L, RGBA; dog/: P, 16-bit, RGB JPEG-free PNG, one corrupt file. Returns the hand
    conversion to RGB of each readable file, keyed by id."""
    rng = np.random.default_rng(7)
    (root / "cat").mkdir(parents=True)
    (root / "dog").mkdir()
    expected: dict[str, np.ndarray] = {}

    rgb = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(root / "cat" / "rgb.png")
    expected["cat/rgb.png"] = rgb

    grey = rng.integers(0, 256, (48, 36), dtype=np.uint8)
    Image.fromarray(grey).save(root / "cat" / "grey.png")
    expected["cat/grey.png"] = np.repeat(grey[..., None], 3, axis=2)

    colour = rng.integers(0, 256, (36, 60, 3), dtype=np.uint8)
    alpha = np.where(rng.random((36, 60)) < 0.5, 0, 255).astype(np.uint8)
    Image.fromarray(np.dstack([colour, alpha])).save(root / "cat" / "alpha.png")
    expected["cat/alpha.png"] = np.where(alpha[..., None] == 255, colour, 255).astype(np.uint8)

    palette = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    index = rng.integers(0, 256, (33, 45), dtype=np.uint8)
    paletted = Image.frombytes("P", (45, 33), index.tobytes())
    paletted.putpalette(palette.flatten().tolist())
    paletted.save(root / "dog" / "palette.png")
    expected["dog/palette.png"] = palette[index]

    deep = rng.integers(0, 65536, (64, 40), dtype=np.uint16)
    Image.fromarray(deep).save(root / "dog" / "deep.png")
    expected["dog/deep.png"] = np.repeat(np.rint(deep / 257.0).astype(np.uint8)[..., None], 3, axis=2)

    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 20)
    return expected


def test_to_rgb_converts_every_mode_exactly(tmp_path: Path) -> None:
    expected = _write_mixed_folder(tmp_path)
    for image_id, rgb in expected.items():
        with Image.open(tmp_path / image_id) as image:
            converted = to_rgb(image)
        assert converted.dtype == np.uint8
        assert np.array_equal(converted, rgb), image_id
    with Image.open(tmp_path / "dog" / "deep.png") as image:
        assert image.mode.startswith("I")
    cmyk = Image.new("CMYK", (4, 4), (0, 255, 255, 0))
    assert to_rgb(cmyk)[0, 0].tolist() == [255, 0, 0]


def test_corrupt_file_is_named_or_skipped_and_listed(tmp_path: Path) -> None:
    expected = _write_mixed_folder(tmp_path)
    spec = {"kind": "imagefolder", "root": str(tmp_path), "n_images": 10, "image_size": 32}
    with pytest.raises(CorruptImageError, match=r"broken\.png") as error:
        stage_dataset(spec, "eval", seed=0)
    assert error.value.path == str(tmp_path / "dog" / "broken.png")

    with pytest.warns(UserWarning, match="broken.png"):
        staged = stage_dataset({**spec, "skip_corrupt": True}, "eval", seed=0)
    assert staged.skipped == [str(tmp_path / "dog" / "broken.png")]
    assert staged.class_names == ["cat", "dog"]
    assert sorted(staged.ids) == sorted(expected)
    assert staged.images.shape == (5, 32, 32, 3) and staged.images.dtype == np.uint8
    for image_id, image, label in zip(staged.ids, staged.images, staged.labels, strict=True):
        assert label == (0 if image_id.startswith("cat/") else 1)
        assert image_id in expected
        assert np.array_equal(image, resize_center_crop(expected[image_id], 32)), image_id


@pytest.mark.filterwarnings("ignore:skipped 1 unreadable image")
@pytest.mark.parametrize("keep_broken", [False, True])
def test_folder_eval_and_train_splits_are_disjoint(tmp_path: Path, keep_broken: bool) -> None:
    expected = _write_mixed_folder(tmp_path)
    if not keep_broken:
        (tmp_path / "dog" / "broken.png").unlink()
    spec = {
        "kind": "imagefolder",
        "root": str(tmp_path),
        "n_images": 2,
        "image_size": 32,
        "skip_corrupt": True,
    }
    evaluation = stage_dataset(spec, "eval", seed=3)
    training = stage_dataset(spec, "train", seed=3)
    assert sorted(evaluation.labels.tolist()) == [0, 1]
    assert not set(evaluation.ids) & set(training.ids)
    assert sorted(evaluation.ids + training.ids) == sorted(expected)
    assert evaluation.ids == stage_dataset(spec, "eval", seed=3).ids


def test_too_small_image_is_rejected_by_name(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    Image.new("RGB", (40, 40), (1, 2, 3)).save(tmp_path / "a" / "fine.png")
    Image.new("RGB", (60, 15), (1, 2, 3)).save(tmp_path / "a" / "thumb.png")
    spec = {"kind": "imagefolder", "root": str(tmp_path), "image_size": 32}
    with pytest.raises(ImageTooSmallError, match=r"thumb\.png is 60x15 px.*min_size=16"):
        stage_dataset(spec, "eval", seed=0)
    assert stage_dataset({**spec, "min_size": 15}, "eval", seed=0).images.shape == (2, 32, 32, 3)


def test_missing_folder_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="root: folder .*nowhere does not exist"):
        stage_dataset({"kind": "imagefolder", "root": str(tmp_path / "nowhere")}, "eval", seed=0)


# ------------------------------------------------------------------------------ streamed staging


def _with_warnings(stage: Callable[[], Staged]) -> tuple[Staged, list[str]]:
    """The result of ``stage()`` and the messages of the UserWarnings it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = stage()
    return result, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def _readable_prefix(ids: list[str], labels: np.ndarray, unreadable: set[str], n: int, seed: int) -> list[str]:
    """The first ``n`` readable ids of the class-balanced order, each unreadable file replaced by the
    next one of its class: readable files ranked within their class, classes interleaved by rank."""
    rank: dict[int, int] = {}
    per_class: Counter[int] = Counter()
    for i in class_balanced_order(labels, seed).tolist():
        if ids[i] not in unreadable:
            rank[i] = per_class[labels[i]]
            per_class[labels[i]] += 1
    picks = sorted(rank, key=lambda i: (rank[i], labels[i]))[:n]
    return [ids[i] for i in sorted(picks)]


@pytest.mark.parametrize("seed", [0, 1])  # the broken file first, last of its class
@pytest.mark.parametrize("n_images", [2, 4])
@pytest.mark.parametrize("broken", [True, False], ids=["broken+skip_corrupt", "clean"])
def test_folder_chunks_join_to_the_staged_set_with_the_expected_picks(
    tmp_path: Path, broken: bool, n_images: int, seed: int
) -> None:
    expected = _write_mixed_folder(tmp_path)
    broken_path = str(tmp_path / "dog" / "broken.png")
    if not broken:
        (tmp_path / "dog" / "broken.png").unlink()
    spec = {
        "kind": "imagefolder",
        "root": str(tmp_path),
        "n_images": n_images,
        "image_size": 32,
        "skip_corrupt": broken,
    }
    all_ids = sorted(expected) if not broken else sorted([*expected, "dog/broken.png"])
    all_labels = np.array([0 if i.startswith("cat/") else 1 for i in all_ids])
    unreadable = {"dog/broken.png"} if broken else set()
    eval_ids = _readable_prefix(all_ids, all_labels, unreadable, n_images, seed)
    rest = [k for k, i in enumerate(all_ids) if i not in eval_ids]
    train_ids = _readable_prefix([all_ids[k] for k in rest], all_labels[rest], unreadable, len(all_ids), seed)
    # eval reaches the broken file when it is among the first (dogs picked) files of its class in the order
    dog_order = [all_ids[i] for i in class_balanced_order(all_labels, seed) if all_labels[i] == 1]
    eval_skips = broken and "dog/broken.png" in dog_order[: sum(i.startswith("dog/") for i in eval_ids)]
    for split, ids, skipped in (("eval", eval_ids, eval_skips), ("train", train_ids, broken)):
        whole, messages = _with_warnings(lambda: stage_dataset(spec, split, seed))  # noqa: B023
        assert whole.ids == ids, split
        assert whole.skipped == ([broken_path] if skipped else [])
        assert messages == ([f"skipped 1 unreadable image(s): {broken_path}"] if skipped else [])
        assert whole.class_names == ["cat", "dog"] and whole.labels.dtype == np.int64
        assert whole.labels.tolist() == [0 if i.startswith("cat/") else 1 for i in ids]
        for image_id, image in zip(whole.ids, whole.images, strict=True):
            assert np.array_equal(image, resize_center_crop(expected[image_id], 32)), image_id
        n = len(ids)
        for chunk_size in (1, 3, n):
            (count, chunks), messages = _with_warnings(
                lambda: stage_dataset_chunks(spec, split, seed, chunk_size)  # noqa: B023
            )
            assert count == n
            chunks = list(chunks)
            assert [len(chunk) for chunk in chunks] == [min(chunk_size, n - s) for s in range(0, n, chunk_size)]
            assert len(messages) == int(skipped)  # one warning per staging, not per chunk
            assert np.concatenate([chunk.images for chunk in chunks]).tobytes() == whole.images.tobytes()
            assert np.array_equal(np.concatenate([chunk.labels for chunk in chunks]), whole.labels)
            assert [i for chunk in chunks for i in chunk.ids] == whole.ids
            assert all(chunk.skipped == whole.skipped and chunk.masks is None for chunk in chunks)


def _write_plain_folder(root: Path, counts: dict[str, int]) -> None:
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for k in range(count):
            Image.new("RGB", (40, 48), (k, 10 * len(name), 90)).save(root / name / f"{k}.png")


@pytest.mark.parametrize(("skip_corrupt", "decoded_before"), [(False, 0), (True, 7)])
def test_folder_staging_decodes_one_chunk_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, skip_corrupt: bool, decoded_before: int
) -> None:
    """The first pass reads files only to skip unreadable ones; the second decodes a chunk per draw."""
    _write_plain_folder(tmp_path, {"a": 4, "b": 3})
    decoded: list[str] = []
    load_image = datasets.load_image

    def counting(path: Path | str, image_size: int, min_size: int) -> np.ndarray:
        decoded.append(Path(path).relative_to(tmp_path).as_posix())
        return load_image(path, image_size, min_size)

    monkeypatch.setattr(datasets.folders, "load_image", counting)  # where the staging looks it up
    spec = {"kind": "imagefolder", "root": str(tmp_path), "image_size": 32, "skip_corrupt": skip_corrupt}
    n, chunks = stage_dataset_chunks(spec, "eval", 0, chunk_size=3)
    assert n == 7 and len(decoded) == decoded_before
    first = next(chunks)
    assert first.ids == ["a/0.png", "a/1.png", "a/2.png"]
    assert decoded[decoded_before:] == first.ids
    assert [len(chunk) for chunk in chunks] == [3, 1]
    assert len(decoded) == decoded_before + 7


def test_corrupt_file_without_skip_raises_when_its_chunk_is_decoded(tmp_path: Path) -> None:
    _write_mixed_folder(tmp_path)
    spec = {"kind": "imagefolder", "root": str(tmp_path), "image_size": 32}
    n, chunks = stage_dataset_chunks(spec, "eval", 0, chunk_size=3)
    assert n == 6
    assert next(chunks).ids == ["cat/alpha.png", "cat/grey.png", "cat/rgb.png"]
    with pytest.raises(CorruptImageError, match=r"broken\.png") as error:
        next(chunks)
    assert error.value.path == str(tmp_path / "dog" / "broken.png")


def _write_fake_cifar10(root: Path) -> np.ndarray:
    """A cifar-10-batches-py folder in torchvision's pickle format: five train batches of 6 images
    and a test batch of 8. Returns the test images as (8, 32, 32, 3)."""
    rng = np.random.default_rng(4)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names}, f)
    test_images = np.empty((0, 32, 32, 3), dtype=np.uint8)
    for name, count in [(f"data_batch_{k}", 6) for k in range(1, 6)] + [("test_batch", 8)]:
        images = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
        batch = {"data": images.transpose(0, 3, 1, 2).reshape(count, -1), "labels": [k % 3 for k in range(count)]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
        test_images = images
    return test_images


@pytest.mark.parametrize("image_size", [32, 48])
def test_cifar10_chunks_join_to_the_staged_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image_size: int
) -> None:
    import torchvision.datasets.cifar

    test_images = _write_fake_cifar10(tmp_path)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args: True)  # no real md5s
    spec = {"kind": "cifar10", "root": str(tmp_path), "n_images": 5, "image_size": image_size}
    whole = stage_dataset(spec, "eval", seed=1)
    indices = class_balanced_subset(np.arange(8) % 3, 5, seed=1)
    assert whole.ids == [f"test-{i:05d}" for i in indices]
    assert whole.labels.tolist() == (indices % 3).tolist() and whole.class_names[9] == "truck"
    assert whole.images.shape == (5, image_size, image_size, 3) and whole.images.flags.c_contiguous
    for image, index in zip(whole.images, indices, strict=True):
        resized = Image.fromarray(test_images[index]).resize((image_size, image_size), Image.Resampling.BILINEAR)
        assert np.array_equal(image, np.asarray(resized))
    n, chunks = stage_dataset_chunks(spec, "eval", 1, chunk_size=2)
    chunks = list(chunks)
    assert n == 5 and [len(chunk) for chunk in chunks] == [2, 2, 1]
    assert np.concatenate([chunk.images for chunk in chunks]).tobytes() == whole.images.tobytes()
    assert [i for chunk in chunks for i in chunk.ids] == whole.ids
    assert np.array_equal(np.concatenate([chunk.labels for chunk in chunks]), whole.labels)
    train = stage_dataset({**spec, "n_train": 0}, "train", seed=1)
    assert len(train) == 30 and train.ids[-1] == "train-00029"


# ------------------------------------------------------------------------------ offline downloads


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """No network: every TCP connection is refused at once. Yields the timeout of each attempt."""
    timeouts: list[float] = []

    def refuse(
        address: tuple[str, int], timeout: float | None = None, *args: object, **kwargs: object
    ) -> socket.socket:
        timeouts.append(float("inf") if timeout is None else timeout)
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return timeouts


def test_cifar10_download_fails_fast_with_placement(tmp_path: Path, offline: list[float]) -> None:
    with pytest.raises(DownloadError, match=rf"place cifar-10-python\.tar\.gz in {tmp_path}/"):
        stage_dataset({"kind": "cifar10", "root": str(tmp_path)}, "eval", seed=0)
    assert offline == [PROBE_TIMEOUT_S]  # one connection attempt, bounded by the probe's timeout
    assert list(tmp_path.iterdir()) == []


def test_imagenette_download_fails_fast_with_placement(tmp_path: Path, offline: list[float]) -> None:
    with pytest.raises(DownloadError, match=rf"imagenette2-160\.tgz.*extracted folder at {tmp_path}/imagenette2-160/"):
        stage_dataset({"kind": "imagenette", "root": str(tmp_path)}, "eval", seed=0)
    assert offline == [PROBE_TIMEOUT_S]


@pytest.mark.usefixtures("offline")
def test_imagenette_in_place_needs_no_network_and_uses_imagenet_labels(tmp_path: Path) -> None:
    for wnid in ("n01440764", "n03888257"):
        folder = tmp_path / "imagenette2-160" / "val" / wnid
        folder.mkdir(parents=True)
        for k in range(2):
            Image.new("RGB", (160, 200), (k, 50, 90)).save(folder / f"img{k}.JPEG")
    staged = stage_dataset({"kind": "imagenette", "root": str(tmp_path), "image_size": 64}, "eval", seed=0)
    assert sorted(staged.labels.tolist()) == [0, 0, 701, 701]
    assert len(staged.class_names) == 1000 and staged.class_names[701] == "parachute"
    assert staged.images.shape == (4, 64, 64, 3)


def test_imagenet_val_labels_follow_the_synset_list(tmp_path: Path) -> None:
    wnids = [f"n{k:08d}" for k in range(1000)]
    (tmp_path / "LOC_synset_mapping.txt").write_text("".join(f"{w} class {k}\n" for k, w in enumerate(wnids)))
    for wnid in (wnids[3], wnids[999]):
        (tmp_path / "val" / wnid).mkdir(parents=True)
        Image.new("RGB", (40, 40), (9, 9, 9)).save(tmp_path / "val" / wnid / "a.png")
    spec = {"kind": "imagenet_val", "root": str(tmp_path / "val"), "image_size": 32}
    with pytest.raises(ValueError, match="root: .* has 2 class folders; ImageNet validation needs all 1000"):
        stage_dataset(spec, "eval", seed=0)
    staged = stage_dataset({**spec, "synsets": str(tmp_path / "LOC_synset_mapping.txt")}, "eval", seed=0)
    assert staged.labels.tolist() == [3, 999]
    assert staged.ids == [f"{wnids[3]}/a.png", f"{wnids[999]}/a.png"]
    assert len(staged.class_names) == 1000
