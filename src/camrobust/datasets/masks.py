"""Ground-truth object masks for localisation, aligned with the staged images.

Masks are boolean (n, image_size, image_size) arrays in the staged images' frame, yielded in
chunks in the order of the staged image ids, so a job holds one chunk at a time. Three sources:

- the shapes datasets: their object masks, stored with the images (:func:`stored_mask_chunks`);
- an ``imagefolder`` dataset's ``masks:`` folder of binary mask images with the images' relative
  paths (:func:`folder_mask_chunks`). A mask must have its image's size; it is resized and
  cropped exactly like its image (:func:`camrobust.datasets.folders.staging_geometry`), by
  nearest neighbour, so a mask pixel lands on its image pixel;
- an ``imagenet_val`` dataset's ``boxes:`` folder of the per-image Pascal VOC XML files of the
  validation set (``ILSVRC2012_val_00000001.xml`` ...): the boxes of the image's class, as a box
  mask in the staged frame (:func:`imagenet_box_chunks`).

Errors name the file: a mask folder without a file for an image, a mask of the wrong size (with
the size expected), a box file for an unknown class. :func:`mask_chunks` dispatches on the
dataset spec; datasets without masks have none (no localisation rows).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from camrobust.datasets.folders import IMAGE_EXTENSIONS, Geometry, crop, staging_geometry
from camrobust.datasets.imagenet import imagenet_wnids
from camrobust.datasets.imageset import DatasetError

LOSSY_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".webp")
"""Mask files read with a threshold at half the 8-bit range (their compression blurs 0/255)."""


class MaskArray(Protocol):
    """Stored masks (n, H, W): anything that slices along its first axis (a Zarr or NumPy array)."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def __getitem__(self, key: slice, /) -> Any: ...


def stored_mask_chunks(masks: MaskArray, *, chunk_size: int) -> Iterator[np.ndarray]:
    """Chunks of ``chunk_size`` bool masks of an array of masks stored with the images (the eval
    store's ``masks`` of a shapes dataset), read one chunk at a time."""
    for start in range(0, masks.shape[0], chunk_size):
        yield np.asarray(masks[start : start + chunk_size]).astype(bool)


# --- a folder of mask images ------------------------------------------------------------------


def read_mask(path: Path) -> np.ndarray:
    """The bool (H, W) mask of a mask image: a pixel is inside the object where its value is
    non-zero (palette images: their index; colour images: any colour channel, alpha ignored; 16-bit
    and float images: their value). Lossily compressed files (JPEG, WebP) take values >= 128 of the
    8-bit greyscale instead, as compression leaves faint non-zero values around a 0/255 mask."""
    try:
        with Image.open(path) as image:
            image.load()
            if path.suffix.lower() in LOSSY_EXTENSIONS:
                return np.asarray(image.convert("L")) >= 128
            values = np.asarray(image if image.mode != "LA" else image.getchannel("L"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DatasetError(f"mask {path}: unreadable ({type(error).__name__}: {error})") from error
    if values.ndim == 3:
        values = values[..., :3].max(axis=2)
    return values != 0


def mask_file(mask_root: Path, image_id: str) -> Path:
    """The mask of image ``image_id`` (a path relative to the image root): ``mask_root / image_id``,
    or the same path with another image extension (a .png mask of a .jpg image). DatasetError
    naming the expected path when there is none, or the candidates when there are several."""
    exact = mask_root / image_id
    if exact.is_file():
        return exact
    stem = exact.with_suffix("")
    found = [p for p in (stem.with_suffix(ext) for ext in IMAGE_EXTENSIONS) if p.is_file()]
    found += [p for p in (stem.with_suffix(ext.upper()) for ext in IMAGE_EXTENSIONS) if p.is_file() and p not in found]
    if len(found) == 1:
        return found[0]
    if found:
        raise DatasetError(f"masks: several masks for image {image_id}: {', '.join(map(str, found))}; keep one")
    raise DatasetError(
        f"masks: no mask for image {image_id}: expected {exact} (or that path with another image extension)"
    )


def staged_mask(mask: np.ndarray, geometry: Geometry, image_size: int) -> np.ndarray:
    """A bool mask of the original image's size resized (nearest neighbour) and cropped as the
    image is staged: the same geometry, so mask pixel (y, x) covers staged image pixel (y, x)."""
    image = Image.fromarray(mask.astype(np.uint8) * 255)
    return crop(image, geometry, image_size, Image.Resampling.NEAREST) >= 128


def folder_mask(image_path: Path, mask_path: Path, image_size: int) -> np.ndarray:
    """The staged bool (image_size, image_size) mask of one image from its mask file; DatasetError
    naming the mask and the size expected when the mask's size is not its image's."""
    with Image.open(image_path) as image:
        width, height = image.size
    mask = read_mask(mask_path)
    if mask.shape != (height, width):
        raise DatasetError(
            f"mask {mask_path} is {mask.shape[1]}x{mask.shape[0]} px; expected {width}x{height} px, "
            f"the size of its image {image_path}"
        )
    return staged_mask(mask, staging_geometry(height, width, image_size), image_size)


def folder_mask_chunks(
    image_root: Path, mask_root: Path, ids: Sequence[str], *, image_size: int, chunk_size: int
) -> Iterator[np.ndarray]:
    """Chunks of the staged masks of images ``ids`` (paths relative to ``image_root``) from the
    mask folder ``mask_root`` (:func:`mask_file`, :func:`folder_mask`), in the order of ``ids``."""
    if not mask_root.is_dir():
        raise DatasetError(f"masks: folder {mask_root} does not exist")
    for start in range(0, len(ids), chunk_size):
        yield np.stack(
            [
                folder_mask(image_root / image_id, mask_file(mask_root, image_id), image_size)
                for image_id in ids[start : start + chunk_size]
            ]
        )


# --- ImageNet validation boxes ----------------------------------------------------------------

Box = tuple[str, float, float, float, float]


def read_boxes(path: Path, known: Sequence[str] | set[str]) -> tuple[tuple[int, int], list[Box]]:
    """((width, height), boxes) of a Pascal VOC annotation file, each box (wnid, xmin, ymin, xmax,
    ymax) as written. DatasetError naming the file when it is missing, malformed, or names a class
    that is not in ``known``."""
    if not path.is_file():
        raise DatasetError(f"boxes: no box file {path}")
    try:
        root = ElementTree.parse(path).getroot()
        size = root.find("size")
        if size is None:
            raise ValueError("no <size>")
        width, height = int(size.findtext("width", "")), int(size.findtext("height", ""))
        boxes: list[Box] = []
        for item in root.iter("object"):
            wnid = (item.findtext("name") or "").strip()
            box = item.find("bndbox")
            if box is None:
                raise ValueError(f"object {wnid!r} has no <bndbox>")
            xmin, ymin, xmax, ymax = (float(box.findtext(key, "")) for key in ("xmin", "ymin", "xmax", "ymax"))
            boxes.append((wnid, xmin, ymin, xmax, ymax))
    except (ElementTree.ParseError, ValueError) as error:
        raise DatasetError(f"box file {path}: malformed ({error})") from error
    unknown = sorted({wnid for wnid, *_ in boxes if wnid not in known})
    if unknown:
        raise DatasetError(f"box file {path}: class {', '.join(unknown)} is not a class of this dataset")
    return (width, height), boxes


def box_mask(boxes: Sequence[Box], geometry: Geometry, image_size: int) -> np.ndarray:
    """The staged bool (image_size, image_size) mask of the union of ``boxes``.

    A box covers the pixels xmin..xmax and ymin..ymax inclusive, counted from 1 (Pascal VOC), i.e.
    the span [xmin - 1, xmax) in pixel-edge coordinates of the original image; scaled by the
    resize and shifted by the crop, a staged pixel is inside when its centre lies in the span."""
    scale_x, scale_y = geometry.new_width / geometry.width, geometry.new_height / geometry.height
    centres = np.arange(image_size) + 0.5
    mask = np.zeros((image_size, image_size), dtype=bool)
    for _, xmin, ymin, xmax, ymax in boxes:
        cols = (centres >= (xmin - 1) * scale_x - geometry.left) & (centres < xmax * scale_x - geometry.left)
        rows = (centres >= (ymin - 1) * scale_y - geometry.top) & (centres < ymax * scale_y - geometry.top)
        mask |= rows[:, None] & cols[None, :]
    return mask


def imagenet_box_mask(image_path: Path, box_path: Path, wnid: str, known: set[str], image_size: int) -> np.ndarray:
    """The staged box mask of one validation image of class ``wnid`` from its annotation file."""
    (width, height), boxes = read_boxes(box_path, known)
    with Image.open(image_path) as image:
        if image.size != (width, height):
            raise DatasetError(
                f"box file {box_path} is for a {width}x{height} px image; {image_path} is "
                f"{image.size[0]}x{image.size[1]} px"
            )
    own = [box for box in boxes if box[0] == wnid]
    if not own:
        named = sorted({box[0] for box in boxes}) or ["none"]
        raise DatasetError(
            f"box file {box_path}: no box of class {wnid} (the image's class); it has {', '.join(named)}"
        )
    return box_mask(own, staging_geometry(height, width, image_size), image_size)


def imagenet_box_chunks(
    image_root: Path,
    box_root: Path,
    ids: Sequence[str],
    *,
    wnids: Sequence[str],
    image_size: int,
    chunk_size: int,
) -> Iterator[np.ndarray]:
    """Chunks of the staged box masks of validation images ``ids`` (``<wnid>/<file>`` under
    ``image_root``), each from ``box_root / <file stem>.xml``; ``wnids`` are the dataset's classes."""
    if not box_root.is_dir():
        raise DatasetError(f"boxes: folder {box_root} does not exist")
    known = set(wnids)
    for start in range(0, len(ids), chunk_size):
        chunk = []
        for image_id in ids[start : start + chunk_size]:
            relative = Path(image_id)
            box_path = box_root / f"{relative.stem}.xml"
            chunk.append(imagenet_box_mask(image_root / relative, box_path, relative.parts[0], known, image_size))
        yield np.stack(chunk)


# --- dispatch ---------------------------------------------------------------------------------


def has_masks(spec: dict[str, Any]) -> bool:
    """Whether a dataset spec has ground-truth masks: shapes always, imagefolder with ``masks``,
    imagenet_val with ``boxes``."""
    kind = spec.get("kind")
    return (
        kind == "shapes" or (kind == "imagefolder" and "masks" in spec) or (kind == "imagenet_val" and "boxes" in spec)
    )


def mask_chunks(
    spec: dict[str, Any], ids: Sequence[str], *, chunk_size: int, stored: MaskArray | None = None
) -> Iterator[np.ndarray]:
    """Chunks of the ground-truth masks of the staged images ``ids`` of the dataset ``spec``, in
    their order. Shapes: ``stored``, the masks stored with its images; imagefolder: its ``masks``
    folder; imagenet_val: its ``boxes`` folder. DatasetError for a dataset without masks
    (:func:`has_masks`)."""
    if not has_masks(spec):
        raise DatasetError(
            f"masks: dataset kind {spec.get('kind')!r} has no ground-truth masks here "
            "(shapes always; imagefolder with masks: <folder>; imagenet_val with boxes: <folder>)"
        )
    image_size = int(spec.get("image_size", 224))
    if spec["kind"] == "shapes":
        if stored is None:
            raise DatasetError("masks: the shapes masks are read from the eval store's masks; pass stored=")
        if stored.shape[0] != len(ids):
            raise DatasetError(f"masks: {stored.shape[0]} stored masks for {len(ids)} images")
        return stored_mask_chunks(stored, chunk_size=chunk_size)
    root = Path(spec["root"])
    if spec["kind"] == "imagefolder":
        return folder_mask_chunks(root, Path(spec["masks"]), ids, image_size=image_size, chunk_size=chunk_size)
    if not root.is_dir():
        raise DatasetError(f"root: folder {root} does not exist")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    wnids = imagenet_wnids(spec, root, folders)
    return imagenet_box_chunks(
        root, Path(spec["boxes"]), ids, wnids=wnids, image_size=image_size, chunk_size=chunk_size
    )
