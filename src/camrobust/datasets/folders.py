"""Image files: ImageFolder trees (``root/<class>/<image>``), decoding and resizing, and the
class-balanced staging of a list of files that ImageFolder, ImageNet and Imagenette share.

Real images are converted to RGB (see :func:`to_rgb`), the shorter side resized to
``round(image_size * 256 / 224)`` (bilinear, antialiased, as torchvision weights' transforms
do) and center-cropped to ``image_size``. An image whose shorter side is below
``spec["min_size"]`` (default ``image_size // 2``) is rejected with :class:`ImageTooSmallError`;
an unreadable file with :class:`CorruptImageError`. With ``skip_corrupt: true`` both are skipped
instead, listed in :attr:`ImageSet.skipped`, and the next file of the deterministic
class-balanced order takes their place.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from camrobust.datasets.imageset import CorruptImageError, DatasetError, ImageSet, ImageTooSmallError, Staging
from camrobust.datasets.subsets import class_balanced_order

IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".jpg",
    ".jpeg",
    ".png",
    ".ppm",
    ".bmp",
    ".pgm",
    ".tif",
    ".tiff",
    ".webp",
)
RESIZE_RATIO = 256 / 224


def to_rgb(image: Image.Image) -> np.ndarray:
    """uint8 (H,W,3) RGB from any PIL mode.

    Transparent images (RGBA, LA, PA, P with a transparency entry) are composited on white;
    16-bit ("I;16*") and 32-bit integer ("I") greyscale are scaled by ``round(v / 257)`` after
    clipping to 0..65535 (65535 -> 255); float ("F") greyscale is clipped to 0..255 and rounded;
    L, 1, P, CMYK, YCbCr go through PIL's own conversion.
    """
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if mode == "F":
            grey = np.clip(np.rint(values), 0, 255)
        else:
            grey = np.rint(np.clip(values, 0, 65535) / 257.0)
        return np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


@dataclass(frozen=True)
class Geometry:
    """Where an image of ``height`` x ``width`` px lands when staged at ``image_size``: resized to
    ``new_height`` x ``new_width``, then the ``image_size`` square at (``top``, ``left``) is kept.
    Pixel centres map as x' = (x + 0.5) new_width / width - 0.5 - left (PIL's resampling grid)."""

    height: int
    width: int
    new_height: int
    new_width: int
    top: int
    left: int


def staging_geometry(height: int, width: int, image_size: int) -> Geometry:
    """The shorter side resized to ``round(image_size * 256/224)``, the other in proportion
    (truncated), and the centre ``image_size`` square (offsets ``round((side - image_size) / 2)``)."""
    short = round(image_size * RESIZE_RATIO)
    if height <= width:
        new_h, new_w = short, int(short * width / height)
    else:
        new_h, new_w = int(short * height / width), short
    return Geometry(height, width, new_h, new_w, round((new_h - image_size) / 2.0), round((new_w - image_size) / 2.0))


def resize_center_crop(rgb: np.ndarray, image_size: int) -> np.ndarray:
    """Resize the shorter side to ``round(image_size * 256/224)`` (bilinear, antialiased) and take
    the centre ``image_size`` square (:func:`staging_geometry`)."""
    geometry = staging_geometry(rgb.shape[0], rgb.shape[1], image_size)
    return crop(Image.fromarray(rgb), geometry, image_size, Image.Resampling.BILINEAR)


def crop(image: Image.Image, geometry: Geometry, image_size: int, resample: Image.Resampling) -> np.ndarray:
    """``image`` resized by ``resample`` and cropped as ``geometry`` says, as an array."""
    resized = np.asarray(image.resize((geometry.new_width, geometry.new_height), resample))
    return resized[geometry.top : geometry.top + image_size, geometry.left : geometry.left + image_size]


def load_image(path: Path | str, image_size: int, min_size: int) -> np.ndarray:
    """One image file as uint8 (image_size, image_size, 3); raises CorruptImageError / ImageTooSmallError."""
    try:
        with Image.open(path) as image:
            image.load()
            rgb = to_rgb(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise CorruptImageError(path, f"{type(error).__name__}: {error}") from error
    height, width = rgb.shape[:2]
    if min(height, width) < min_size:
        raise ImageTooSmallError(path, (width, height), min_size)
    return resize_center_crop(rgb, image_size)


def list_image_folder(root: Path, classes: Sequence[str] | None = None) -> tuple[list[Path], np.ndarray, list[str]]:
    """Files, labels and class-folder names of an ImageFolder tree ``root/<class>/<file>``; label i
    is ``classes[i]`` (default: the folder names sorted)."""
    if not root.is_dir():
        raise DatasetError(f"root: folder {root} does not exist")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes is not None:
        names = [p.name for p in class_dirs]
        if sorted(classes) != names or len(set(classes)) != len(classes):
            raise DatasetError(f"classes: must name each class folder of {root} once; the folders are {names}")
        class_dirs = [root / name for name in classes]
    files: list[Path] = []
    labels: list[int] = []
    for label, class_dir in enumerate(class_dirs):
        members = sorted(
            p
            for p in class_dir.rglob("*")
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        files += members
        labels += [label] * len(members)
    if not files:
        raise DatasetError(
            f"root: no images under {root} (expected {root}/<class>/<image> with extensions {', '.join(IMAGE_EXTENSIONS)})"
        )
    return files, np.asarray(labels, dtype=np.int64), [p.name for p in class_dirs]


def _balanced_readable(
    files: Sequence[Path],
    labels: np.ndarray,
    seed: int,
    check: Callable[[Path], object] | None,
    skipped: list[str],
) -> Iterator[int]:
    """Indices of ``files`` in the class-balanced order of :func:`class_balanced_order`. With
    ``check``, a file it rejects (CorruptImageError / ImageTooSmallError) is listed in ``skipped``
    and replaced by the next one of its own class; without, no file is read."""
    order = class_balanced_order(labels, seed)
    queues = [deque(int(i) for i in order if labels[i] == cls) for cls in np.unique(labels)]
    while any(queues):
        for queue in queues:
            while queue:
                index = queue.popleft()
                if check is not None:
                    try:
                        check(files[index])
                    except (CorruptImageError, ImageTooSmallError):
                        skipped.append(str(files[index]))
                        continue
                yield index
                break


def folder_staging(
    root: Path,
    files: Sequence[Path],
    labels: np.ndarray,
    class_names: list[str],
    *,
    spec: dict[str, Any],
    split: str,
    seed: int,
    chunk_size: int,
) -> Staging:
    """Stage a class-balanced subset of ``files`` (image files, their labels and the names of all
    classes) with the keys of ``spec`` n_images, n_train, image_size, min_size, skip_corrupt.

    "eval" takes the first ``n_images`` readable files of the class-balanced order, "train" the
    next ``n_train`` (default: all the rest) so the two are disjoint. Ids are the files' paths
    relative to ``root``.

    Two passes: the first picks the files, the second decodes them in index order, ``chunk_size``
    at a time. The first reads files only with ``skip_corrupt`` (to find the unreadable ones), so
    then each picked file is decoded twice; without it a corrupt or too-small file raises when the
    second pass reaches it.
    """
    image_size = int(spec.get("image_size", 224))
    min_size = int(spec.get("min_size", image_size // 2))
    n_eval = int(spec.get("n_images", len(files)))

    def decode(path: Path) -> np.ndarray:
        return load_image(path, image_size, min_size)

    check = decode if spec.get("skip_corrupt", False) else None
    skipped: list[str] = []
    if split == "eval":
        picks = list(islice(_balanced_readable(files, labels, seed, check, skipped), n_eval))
    else:
        eval_picks = set(islice(_balanced_readable(files, labels, seed, check, []), n_eval))
        rest = [i for i in range(len(files)) if i not in eval_picks]
        stream = _balanced_readable([files[i] for i in rest], labels[rest], seed, check, skipped)
        picks = [rest[i] for i in islice(stream, int(spec.get("n_train") or len(files)))]
    if not picks:
        raise DatasetError(
            f"root: no readable images for split {split!r} under {root} "
            f"({len(files)} files, n_images={n_eval} of them for eval)"
        )
    picks.sort()

    def chunks() -> Iterator[ImageSet]:
        for start in range(0, len(picks), chunk_size):
            indices = picks[start : start + chunk_size]
            yield ImageSet(
                images=np.stack([decode(files[i]) for i in indices]),
                labels=labels[indices],
                ids=[files[i].relative_to(root).as_posix() for i in indices],
                class_names=class_names,
                skipped=list(skipped),
            )

    return Staging(len(picks), skipped, chunks())


def stage_imagefolder(spec: dict[str, Any], split: str, seed: int, chunk_size: int) -> Staging:
    """Stage an ImageFolder tree (root, classes, n_images, n_train, image_size, min_size, skip_corrupt)."""
    if "root" not in spec:
        raise DatasetError("root: missing for kind 'imagefolder' (a folder of <class>/<image> files)")
    root = Path(spec["root"])
    files, labels, class_names = list_image_folder(root, spec.get("classes"))
    return folder_staging(root, files, labels, class_names, spec=spec, split=split, seed=seed, chunk_size=chunk_size)
