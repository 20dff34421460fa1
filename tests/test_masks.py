"""Ground-truth masks: stored shapes masks, a folder of mask images resized and cropped exactly
like their images, and ImageNet validation boxes, with errors naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import binary_erosion

from camrobust.canonical import staging_settings
from camrobust.config import validate_config
from camrobust.datasets import (
    DatasetError,
    box_mask,
    folder_mask_chunks,
    generate_shapes,
    has_masks,
    imagenet_box_chunks,
    mask_chunks,
    read_boxes,
    read_mask,
    stage_dataset,
    staging_geometry,
)

GREY, RED = (128, 128, 128), (250, 10, 10)
SIZE = 64


def rectangle_image(path: Path, size: tuple[int, int], box: tuple[int, int, int, int], fmt: str = "PNG") -> None:
    """A grey image of ``size`` (w, h) with a red rectangle on 0-based pixels box = (x0, y0, x1, y1) inclusive."""
    pixels = np.full((size[1], size[0], 3), GREY, dtype=np.uint8)
    x0, y0, x1, y1 = box
    pixels[y0 : y1 + 1, x0 : x1 + 1] = RED
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt, **({"quality": 100} if fmt == "JPEG" else {}))


def rectangle_mask(path: Path, size: tuple[int, int], box: tuple[int, int, int, int], value: int = 255) -> None:
    mask = np.zeros((size[1], size[0]), dtype=np.uint8)
    x0, y0, x1, y1 = box
    mask[y0 : y1 + 1, x0 : x1 + 1] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask).save(path)


def nearest_expectation(size: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """Staged pixel (y, x) is inside when the source pixel nearest its centre is: index
    floor((x + left + 0.5) w / new_w) along each axis."""
    geometry = staging_geometry(size[1], size[0], SIZE)
    cols = np.floor((np.arange(SIZE) + geometry.left + 0.5) * size[0] / geometry.new_width).astype(int)
    rows = np.floor((np.arange(SIZE) + geometry.top + 0.5) * size[1] / geometry.new_height).astype(int)
    x0, y0, x1, y1 = box
    return ((rows >= y0) & (rows <= y1))[:, None] & ((cols >= x0) & (cols <= x1))[None, :]


def interior(mask: np.ndarray, margin: int = 2) -> np.ndarray:
    """The pixels of ``mask`` at least ``margin`` px (Chebyshev) from its border: out of reach of
    the antialiased resize's blending."""
    return binary_erosion(mask, np.ones((2 * margin + 1, 2 * margin + 1), bool), border_value=1)


CASES = {  # relative path: (image size (w, h), rectangle, image format)
    "birds/wide.png": ((300, 200), (100, 40, 179, 119), "PNG"),
    "birds/tall.jpg": ((150, 260), (20, 150, 89, 229), "JPEG"),
    "cats/square.png": ((120, 120), (0, 0, 59, 29), "PNG"),
}


@pytest.fixture()
def folder(tmp_path: Path) -> tuple[Path, Path]:
    images, masks = tmp_path / "images", tmp_path / "masks"
    for relative, (size, box, fmt) in CASES.items():
        rectangle_image(images / relative, size, box, fmt)
        rectangle_mask((masks / relative).with_suffix(".png"), size, box)  # a .png mask of a .jpg image too
    return images, masks


def test_folder_masks_land_on_their_image_pixels(folder: tuple[Path, Path]) -> None:
    images, masks = folder
    staged = stage_dataset({"kind": "imagefolder", "root": str(images), "image_size": SIZE}, "eval", seed=0)
    chunks = list(folder_mask_chunks(images, masks, staged.ids, image_size=SIZE, chunk_size=2))
    assert [len(chunk) for chunk in chunks] == [2, 1]
    stacked = np.concatenate(chunks)
    assert stacked.dtype == bool and stacked.shape == (3, SIZE, SIZE)
    for image, mask, image_id in zip(staged.images, stacked, staged.ids, strict=True):
        size, box, _ = CASES[image_id]
        assert np.array_equal(mask, nearest_expectation(size, box)), image_id
        # the staged image (bilinear, antialiased) is red inside the mask, away from its edge, and
        # grey outside: the mask pixel covers its image pixel
        slack = 40 if image_id.endswith(".jpg") else 12  # JPEG: chroma subsampling bleeds the red
        red = np.abs(image.astype(int) - RED).max(axis=2) <= slack
        grey = np.abs(image.astype(int) - GREY).max(axis=2) <= slack
        inner, outer = interior(mask), interior(~mask)
        assert inner.any() and red[inner].all() and grey[outer].all(), image_id


def test_a_missing_mask_names_the_file(folder: tuple[Path, Path]) -> None:
    images, masks = folder
    (masks / "cats/square.png").unlink()
    with pytest.raises(DatasetError, match="no mask for image cats/square.png: expected .*masks/cats/square.png"):
        list(folder_mask_chunks(images, masks, ["birds/wide.png", "cats/square.png"], image_size=SIZE, chunk_size=8))
    with pytest.raises(DatasetError, match="folder .* does not exist"):
        next(folder_mask_chunks(images, masks / "nope", ["cats/square.png"], image_size=SIZE, chunk_size=8))


def test_a_mask_of_the_wrong_size_says_which_size_was_expected(folder: tuple[Path, Path]) -> None:
    images, masks = folder
    rectangle_mask(masks / "birds/wide.png", (150, 100), (1, 1, 5, 5))
    with pytest.raises(
        DatasetError, match=r"mask .*wide.png is 150x100 px; expected 300x200 px, the size of its image"
    ):
        next(folder_mask_chunks(images, masks, ["birds/wide.png"], image_size=SIZE, chunk_size=8))


def test_mask_file_values(tmp_path: Path) -> None:
    box = (2, 3, 6, 7)
    expected = np.zeros((10, 12), dtype=bool)
    expected[3:8, 2:7] = True
    rectangle_mask(tmp_path / "ones.png", (12, 10), box, value=1)  # 0/1 masks
    assert np.array_equal(read_mask(tmp_path / "ones.png"), expected)
    sixteen = (expected * 65535).astype(np.uint16)
    Image.fromarray(sixteen).save(tmp_path / "sixteen.png")
    assert np.array_equal(read_mask(tmp_path / "sixteen.png"), expected)
    Image.fromarray(
        np.stack([expected * 200, expected * 0, expected * 0, np.full((10, 12), 255)], 2).astype(np.uint8)
    ).save(tmp_path / "rgba.png")
    assert np.array_equal(read_mask(tmp_path / "rgba.png"), expected)
    Image.fromarray((expected * 255).astype(np.uint8)).save(tmp_path / "lossy.jpg", quality=60)
    assert np.array_equal(read_mask(tmp_path / "lossy.jpg"), expected)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="broken.png: unreadable"):
        read_mask(tmp_path / "broken.png")


# --------------------------------------------------------------------------------- ImageNet boxes

WNIDS = [f"n{i:08d}" for i in range(1000)]


def write_box_file(path: Path, size: tuple[int, int], objects: list[tuple[str, int, int, int, int]]) -> None:
    parts = "".join(
        f"<object><name>{name}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax>"
        f"<ymax>{y1}</ymax></bndbox></object>"
        for name, x0, y0, x1, y1 in objects
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"<annotation><filename>{path.stem}</filename><size><width>{size[0]}</width><height>{size[1]}</height>"
        f"<depth>3</depth></size>{parts}</annotation>"
    )


@pytest.fixture()
def imagenet(tmp_path: Path) -> tuple[dict, list[str]]:
    root, boxes = tmp_path / "val", tmp_path / "boxes"
    synsets = tmp_path / "LOC_synset_mapping.txt"
    synsets.write_text("".join(f"{wnid} thing {i}\n" for i, wnid in enumerate(WNIDS)))
    ids = []
    for index, (wnid, size, box) in enumerate(
        [(WNIDS[3], (250, 180), (50, 30, 149, 99)), (WNIDS[7], (160, 240), (10, 120, 79, 219))], start=1
    ):
        name = f"ILSVRC2012_val_{index:08d}"
        rectangle_image(root / wnid / f"{name}.JPEG", size, box, "JPEG")
        x0, y0, x1, y1 = box  # 0-based inclusive -> VOC's 1-based inclusive
        write_box_file(boxes / f"{name}.xml", size, [(wnid, x0 + 1, y0 + 1, x1 + 1, y1 + 1)])
        ids.append(f"{wnid}/{name}.JPEG")
    spec = {"kind": "imagenet_val", "root": str(root), "synsets": str(synsets), "boxes": str(boxes), "image_size": SIZE}
    return spec, ids


def test_imagenet_boxes_land_on_their_image_pixels(imagenet: tuple[dict, list[str]]) -> None:
    spec, ids = imagenet
    staged = stage_dataset(spec, "eval", seed=0)
    assert sorted(staged.ids) == sorted(ids)
    masks = np.concatenate(list(mask_chunks(spec, staged.ids, chunk_size=1)))
    for image, mask in zip(staged.images, masks, strict=True):
        red = np.abs(image.astype(int) - RED).max(axis=2) <= 40  # JPEG
        grey = np.abs(image.astype(int) - GREY).max(axis=2) <= 40
        inner, outer = interior(mask), interior(~mask)
        assert inner.any() and red[inner].all() and grey[outer].all()


def test_box_mask_geometry() -> None:
    """A box on 1-based pixels 1..100 x 1..50 of a 200 x 100 image: the left half, top half."""
    geometry = staging_geometry(100, 200, 64)  # resized to 146 x 73, crop at (4, 41)
    assert (geometry.new_width, geometry.new_height, geometry.top, geometry.left) == (146, 73, 4, 41)
    mask = box_mask([("n0", 1, 1, 100, 50)], geometry, 64)
    centres = np.arange(64) + 0.5
    cols = centres < 100 * 146 / 200 - 41  # x < 32.0: columns 0..31
    rows = centres < 50 * 73 / 100 - 4  # y < 32.5: rows 0..31
    assert np.array_equal(mask, rows[:, None] & cols[None, :]) and mask.sum() == 32 * 32


def test_box_file_errors_name_the_file(imagenet: tuple[dict, list[str]], tmp_path: Path) -> None:
    spec, ids = imagenet
    boxes = Path(spec["boxes"])
    write_box_file(boxes / "ILSVRC2012_val_00000001.xml", (250, 180), [("n99999999", 1, 1, 5, 5)])
    with pytest.raises(DatasetError, match=r"ILSVRC2012_val_00000001.xml: class n99999999 is not a class"):
        list(mask_chunks(spec, ids, chunk_size=8))
    write_box_file(boxes / "ILSVRC2012_val_00000001.xml", (250, 180), [(WNIDS[5], 1, 1, 5, 5)])
    with pytest.raises(DatasetError, match=f"no box of class {WNIDS[3]}"):
        list(mask_chunks(spec, ids, chunk_size=8))
    write_box_file(boxes / "ILSVRC2012_val_00000001.xml", (251, 180), [(WNIDS[3], 1, 1, 5, 5)])
    with pytest.raises(DatasetError, match="for a 251x180 px image"):
        list(mask_chunks(spec, ids, chunk_size=8))
    (boxes / "ILSVRC2012_val_00000001.xml").write_text("<annotation><size>")
    with pytest.raises(DatasetError, match="ILSVRC2012_val_00000001.xml: malformed"):
        read_boxes(boxes / "ILSVRC2012_val_00000001.xml", set(WNIDS))
    (boxes / "ILSVRC2012_val_00000001.xml").unlink()
    with pytest.raises(DatasetError, match="no box file .*ILSVRC2012_val_00000001.xml"):
        list(imagenet_box_chunks(Path(spec["root"]), boxes, ids, wnids=WNIDS, image_size=SIZE, chunk_size=8))


# -------------------------------------------------------------------------- shapes and dispatch


def test_shapes_masks_come_from_the_store_in_chunks() -> None:
    shapes = generate_shapes(5, 32, "plain", seed=0)
    spec = {"kind": "shapes", "image_size": 32, "variant": "plain"}
    chunks = list(mask_chunks(spec, shapes.ids, chunk_size=2, stored=shapes.masks))
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert shapes.masks is not None and np.array_equal(np.concatenate(chunks), shapes.masks)
    with pytest.raises(DatasetError, match="stored="):
        mask_chunks(spec, shapes.ids, chunk_size=2)


def test_which_datasets_have_masks() -> None:
    assert has_masks({"kind": "shapes"}) and has_masks({"kind": "imagefolder", "masks": "m"})
    assert not has_masks({"kind": "imagefolder"}) and not has_masks({"kind": "imagenette"})
    with pytest.raises(DatasetError, match="has no ground-truth masks"):
        mask_chunks({"kind": "cifar10"}, ["a"], chunk_size=1)


def test_mask_settings_are_valid_config_and_do_not_restage(folder: tuple[Path, Path]) -> None:
    base = {
        "models": {"r18": {"kind": "torchvision", "arch": "resnet18", "weights": None, "num_classes": 2}},
        "noises": {"gaussian_noise": [1]},
        "cams": ["gradcam"],
    }
    spec = {"kind": "imagefolder", "root": str(folder[0]), "masks": str(folder[1])}
    config = validate_config({**base, "datasets": {"lesions": spec}})
    with_masks = config["datasets"]["lesions"]
    without = {key: value for key, value in with_masks.items() if key != "masks"}
    assert staging_settings(with_masks, "eval") == staging_settings(without, "eval")
