"""Datasets: the synthetic offline "shapes" set, ImageFolder trees, ImageNet validation,
Imagenette and CIFAR-10, all staged as uint8 RGB arrays of one square size.

Real images are converted to RGB (see :func:`to_rgb`), the shorter side resized to
``round(image_size * 256 / 224)`` (bilinear, antialiased, as torchvision weights' transforms
do) and center-cropped to ``image_size``. An image whose shorter side is below
``spec["min_size"]`` (default ``image_size // 2``) is rejected with :class:`ImageTooSmallError`;
an unreadable file with :class:`CorruptImageError`. With ``skip_corrupt: true`` both are skipped
instead, listed in :attr:`ImageSet.skipped`, and the next file of the deterministic
class-balanced order takes their place.
"""

from __future__ import annotations

import sys
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from camrobust.downloads import DownloadError, fetch_or_explain
from camrobust.registry import DATASET_KINDS
from camrobust.seeding import image_generator

SHAPE_KINDS: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "cross",
    "ring",
    "diamond",
    "star",
    "crescent",
)
SHAPE_VARIANTS: tuple[str, ...] = ("plain", "cluttered")
SPLITS: tuple[str, ...] = ("eval", "train")
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

# Imagenette wnid -> ImageNet-1k class index (tench, English springer, cassette player, chain saw,
# church, French horn, garbage truck, gas pump, golf ball, parachute).
IMAGENETTE_TO_IMAGENET: dict[str, int] = {
    "n01440764": 0,
    "n02102040": 217,
    "n02979186": 482,
    "n03000684": 491,
    "n03028079": 497,
    "n03394916": 566,
    "n03417042": 569,
    "n03425413": 571,
    "n03445777": 574,
    "n03888257": 701,
}
IMAGENETTE_SIZES: dict[str, str] = {
    "160px": "imagenette2-160",
    "320px": "imagenette2-320",
    "full": "imagenette2",
}


class DatasetError(ValueError):
    """A dataset spec or a dataset's files cannot be used."""


class CorruptImageError(DatasetError):
    """An image file cannot be decoded; ``path`` names it."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        super().__init__(f"corrupt or unreadable image {self.path}: {reason} (set skip_corrupt: true to skip it)")


class ImageTooSmallError(DatasetError):
    """An image's shorter side is below the minimum size; ``path`` names it."""

    def __init__(self, path: Path | str, size: tuple[int, int], min_size: int) -> None:
        self.path = str(path)
        super().__init__(
            f"image {self.path} is {size[0]}x{size[1]} px, its shorter side is below min_size={min_size} "
            "(set min_size or skip_corrupt: true to skip it)"
        )


@dataclass
class ImageSet:
    """Images at rest: uint8 (N,H,W,3) RGB, int64 labels, unique ids, optional object masks."""

    images: np.ndarray
    labels: np.ndarray
    ids: list[str]
    class_names: list[str]
    masks: np.ndarray | None = None
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


class _Staging(NamedTuple):
    """A staging in progress: the number of images, the files skipped, the chunks still to come."""

    n: int
    skipped: list[str]
    chunks: Iterator[ImageSet]


# ----------------------------------------------------------------------------------------------
# synthetic shapes


def _shape_mask(kind: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Mask of one shape kind in coordinates scaled to the shape's half-size (|u|,|v| <= 1)."""
    rho = np.sqrt(u * u + v * v)
    if kind == "circle":
        return rho <= 1.0
    if kind == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.85
    if kind == "triangle":  # apex up (image y grows downwards), base at v = 0.8
        return (v <= 0.8) & (np.abs(u) <= (v + 0.95) / 1.75)
    if kind == "cross":
        return ((np.abs(u) <= 0.3) & (np.abs(v) <= 1.0)) | ((np.abs(v) <= 0.3) & (np.abs(u) <= 1.0))
    if kind == "ring":
        return (rho <= 1.0) & (rho >= 0.55)
    if kind == "diamond":
        return np.abs(u) + np.abs(v) <= 1.0
    if kind == "star":  # five points, one pointing up
        theta = np.arctan2(u, -v)
        return rho <= 0.55 + 0.45 * np.cos(5.0 * theta)
    if kind == "crescent":
        return (rho <= 1.0) & ((u - 0.45) ** 2 + (v + 0.1) ** 2 > 0.7**2)
    raise ValueError(f"shape kind {kind!r} unknown; allowed: {', '.join(SHAPE_KINDS)}")


def _render_masks(kinds: np.ndarray, centers: np.ndarray, radii: np.ndarray, image_size: int) -> np.ndarray:
    """Masks (M,S,S) of shapes ``kinds`` (M,) centred at ``centers`` (M,2 as x,y) with ``radii`` (M,)."""
    grid = np.arange(image_size, dtype=np.float32) + 0.5
    masks = np.zeros((len(kinds), image_size, image_size), dtype=bool)
    for kind_index in np.unique(kinds):
        rows = np.flatnonzero(kinds == kind_index)
        scale = radii[rows, None, None].astype(np.float32)
        u = (grid[None, None, :] - centers[rows, 0, None, None].astype(np.float32)) / scale
        v = (grid[None, :, None] - centers[rows, 1, None, None].astype(np.float32)) / scale
        masks[rows] = _shape_mask(SHAPE_KINDS[kind_index], u, v)
    return masks


@dataclass
class _ShapeDraws:
    """Per-image random draws for the shapes set (arrays over images)."""

    quadrant: np.ndarray  # (N,) 0..3, where the object sits
    center: np.ndarray  # (N,2) x,y in pixels
    radius: np.ndarray  # (N,)
    object_colour: np.ndarray  # (N,3)
    background: np.ndarray  # (N,2,3) two background colours
    texture: np.ndarray  # (N,4) frequency x, frequency y, phase, second phase
    distractor_kind: np.ndarray  # (N,3)
    distractor_center: np.ndarray  # (N,3,2)
    distractor_radius: np.ndarray  # (N,3)
    distractor_colour: np.ndarray  # (N,3,3)
    grain: np.ndarray  # (N,S,S) uniform [0,1) per-pixel background grain


_QUADRANT_ORIGINS = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, 0.5], [0.5, 0.5]])


def _draw_image(rng: np.random.Generator, label: int, image_size: int) -> dict[str, Any]:
    """All random choices for one shapes image, in a fixed order (independent of the variant)."""
    half = image_size / 2
    quadrant = int(rng.integers(4))
    radius = rng.uniform(0.14, 0.22) * image_size
    origin = _QUADRANT_ORIGINS[quadrant] * image_size
    center = origin + rng.uniform(radius, half - radius, size=2)
    dark_on_light = rng.random() < 0.5
    bright = rng.uniform(150, 255, size=3)
    dark = rng.uniform(0, 100, size=(2, 3))
    object_colour = dark[0] if dark_on_light else bright
    background = np.stack([bright, rng.uniform(150, 255, size=3)]) if dark_on_light else dark
    texture = np.array([rng.uniform(1, 5), rng.uniform(1, 5), rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)])
    other_kinds = np.delete(np.arange(len(SHAPE_KINDS)), label)
    distractor_kind = rng.choice(other_kinds, size=3, replace=False)
    distractor_radius = rng.uniform(0.06, 0.09, size=3) * image_size
    others = np.delete(np.arange(4), quadrant)
    distractor_center = _QUADRANT_ORIGINS[others] * image_size + rng.uniform(
        distractor_radius[:, None], half - distractor_radius[:, None], size=(3, 2)
    )
    mid = 0.5 * (object_colour + background.mean(axis=0))
    distractor_colour = mid + rng.uniform(-25, 25, size=(3, 3))
    grain = rng.random((image_size, image_size), dtype=np.float32)
    return {
        "quadrant": quadrant,
        "center": center,
        "radius": radius,
        "object_colour": object_colour,
        "background": background,
        "texture": texture,
        "distractor_kind": distractor_kind,
        "distractor_center": distractor_center,
        "distractor_radius": distractor_radius,
        "distractor_colour": distractor_colour,
        "grain": grain,
    }


def _draw_all(
    labels: np.ndarray, image_size: int, split: str, seed: int, indices: np.ndarray | None = None
) -> _ShapeDraws:
    """Draws of images ``indices`` (default 0..len(labels)-1) of a split, ``labels`` their classes."""
    positions = np.arange(len(labels)) if indices is None else indices
    draws = [
        _draw_image(image_generator("shapes", split, int(index), seed), int(label), image_size)
        for index, label in zip(positions, labels, strict=True)
    ]
    return _ShapeDraws(**{name: np.stack([d[name] for d in draws]) for name in _ShapeDraws.__dataclass_fields__})


def _background(draws: _ShapeDraws, image_size: int, variant: str) -> np.ndarray:
    """Background (N,S,S,3) float32: uniform colour ("plain") or two crossed gratings plus grain."""
    n = len(draws.radius)
    base = draws.background[:, 0].astype(np.float32)[:, None, None, :]
    if variant == "plain":
        return np.broadcast_to(base, (n, image_size, image_size, 3)).copy()
    grid = (np.arange(image_size, dtype=np.float32) + 0.5) * (2 * np.pi / image_size)
    fx, fy, phase_a, phase_b = (draws.texture[:, k, None, None].astype(np.float32) for k in range(4))
    stripes = np.sin(fx * grid[None, None, :] + phase_a) * np.sin(fy * grid[None, :, None] + phase_b)
    weight = (0.35 * (stripes + 1.0) + 0.3 * draws.grain)[..., None]  # in [0, 1]
    second = draws.background[:, 1].astype(np.float32)[:, None, None, :]
    return base + (second - base) * weight


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Round and clip to uint8."""
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _paint(images: np.ndarray, masks: np.ndarray, colours: np.ndarray, owner: np.ndarray) -> None:
    """In place: pixels of mask m (M,S,S) in image ``owner[m]`` take ``colours[m]`` (M,3)."""
    shape_index, rows, cols = np.nonzero(masks)
    images[owner[shape_index], rows, cols] = colours[shape_index]


def generate_shapes(
    n: int, image_size: int, variant: str, seed: int, n_classes: int = 6, split: str = "eval"
) -> ImageSet:
    """Synthetic shapes: one object per image (class = its kind) with its ground-truth mask.

    The object (random colour, radius 0.14-0.22 of the image size) sits in a random quadrant.
    "plain": uniform background colour. "cluttered": textured background (two crossed gratings
    plus per-pixel grain) and three smaller, lower-contrast distractor shapes of other kinds in
    the other quadrants. Labels are ``i % n_classes`` permuted by seed (balanced); image ``i`` is
    drawn from ``image_generator("shapes", split, i, seed)`` so splits are disjoint streams, and
    both variants hold the same objects (kind, colour, size, position: identical masks). Ids are
    ``f"{split}-{i:06d}"``; masks are the objects' pixels (distractors excluded).
    """
    return next(shapes_chunks(n, image_size, variant, seed, n_classes, split, chunk_size=max(n, 1)))


def shapes_chunks(
    n: int, image_size: int, variant: str, seed: int, n_classes: int = 6, split: str = "eval", chunk_size: int = 64
) -> Iterator[ImageSet]:
    """The images of :func:`generate_shapes` in consecutive chunks of ``chunk_size`` (same pixels)."""
    if variant not in SHAPE_VARIANTS:
        raise ValueError(f"variant: {variant!r} unknown; allowed: {', '.join(SHAPE_VARIANTS)}")
    if not 2 <= n_classes <= len(SHAPE_KINDS):
        raise ValueError(f"n_classes: {n_classes} out of range; allowed: 2..{len(SHAPE_KINDS)}")
    if image_size < 16:
        raise ValueError(f"image_size: {image_size} too small; allowed: >= 16")
    if split not in SPLITS:
        raise ValueError(f"split: {split!r} unknown; allowed: {', '.join(SPLITS)}")
    all_labels = (np.arange(n) % n_classes)[image_generator("shapes-labels", split, n, seed).permutation(n)]
    for start in range(0, max(n, 1), chunk_size):
        indices = np.arange(start, min(start + chunk_size, n))
        labels = all_labels[indices]
        draws = _draw_all(labels, image_size, split, seed, indices)
        images = _to_uint8(_background(draws, image_size, variant))
        if variant == "cluttered":
            kinds = draws.distractor_kind.reshape(-1)
            masks = _render_masks(
                kinds, draws.distractor_center.reshape(-1, 2), draws.distractor_radius.reshape(-1), image_size
            )
            _paint(images, masks, _to_uint8(draws.distractor_colour.reshape(-1, 3)), owner=np.arange(len(kinds)) // 3)
        object_masks = _render_masks(labels, draws.center, draws.radius, image_size)
        _paint(images, object_masks, _to_uint8(draws.object_colour), owner=np.arange(len(indices)))
        yield ImageSet(
            images=images,
            labels=labels.astype(np.int64),
            ids=[f"{split}-{i:06d}" for i in indices],
            class_names=list(SHAPE_KINDS[:n_classes]),
            masks=object_masks,
        )


# ----------------------------------------------------------------------------------------------
# subsets


def class_balanced_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """All indices in a deterministic class-balanced order: classes interleaved round-robin, each
    class shuffled by ``seed``; a prefix of length n has per-class counts differing by at most one
    (while every class still has members)."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    rank = np.empty(len(labels), dtype=np.int64)
    for cls in classes:
        members = np.flatnonzero(labels == cls)
        rank[members] = image_generator("class-balanced", int(cls), seed).permutation(len(members))
    return np.lexsort((labels, rank))


def class_balanced_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices (sorted) of a deterministic class-balanced subset; all indices when n >= len."""
    return np.sort(class_balanced_order(labels, seed)[:n])


# ----------------------------------------------------------------------------------------------
# real images


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


def resize_center_crop(rgb: np.ndarray, image_size: int) -> np.ndarray:
    """Resize the shorter side to ``round(image_size * 256/224)`` (bilinear, antialiased) and take
    the centre ``image_size`` square (top/left offsets ``round((side - image_size) / 2)``)."""
    height, width = rgb.shape[:2]
    short = round(image_size * RESIZE_RATIO)
    if height <= width:
        new_h, new_w = short, int(short * width / height)
    else:
        new_h, new_w = int(short * height / width), short
    resized = np.asarray(Image.fromarray(rgb).resize((new_w, new_h), Image.Resampling.BILINEAR))
    top = round((new_h - image_size) / 2.0)
    left = round((new_w - image_size) / 2.0)
    return resized[top : top + image_size, left : left + image_size]


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


def _folder_chunks(
    root: Path,
    files: Sequence[Path],
    labels: np.ndarray,
    class_names: list[str],
    spec: dict[str, Any],
    split: str,
    seed: int,
    chunk_size: int,
) -> _Staging:
    """Class-balanced subset of ``files``: "eval" takes the first ``n_images`` readable files of the
    class-balanced order, "train" the next ``n_train`` (default: all the rest) so the two are
    disjoint. Ids are the files' paths relative to ``root``.

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

    return _Staging(len(picks), skipped, chunks())


def _imagenet_categories() -> list[str]:
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    return list(_IMAGENET_CATEGORIES)


def _read_synsets(path: Path) -> list[str]:
    """wnids in ImageNet index order from a LOC_synset_mapping.txt-style file (first token per line)."""
    wnids = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    if len(wnids) != 1000:
        raise DatasetError(f"synsets: {path} lists {len(wnids)} wnids; expected 1000")
    return wnids


def _stage_imagenet_val(spec: dict[str, Any], split: str, seed: int, chunk_size: int) -> _Staging:
    """ImageNet validation in ImageFolder layout (``root/<wnid>/<image>``). Class index = position of
    the wnid in the sorted list of all 1000 wnids, or in ``spec["synsets"]`` (a
    LOC_synset_mapping.txt) when only some class folders are present."""
    if split != "eval":
        raise DatasetError(f"split: {split!r} not available for kind 'imagenet_val'; allowed: eval")
    root = Path(spec["root"])
    files, folder_labels, wnids = list_image_folder(root)
    if "synsets" in spec:
        all_wnids = _read_synsets(Path(spec["synsets"]))
    elif len(wnids) == 1000:
        all_wnids = wnids
    else:
        raise DatasetError(
            f"root: {root} has {len(wnids)} class folders; ImageNet validation needs all 1000 wnid folders, "
            "or set synsets: <path to LOC_synset_mapping.txt> to map a subset"
        )
    index_of = {wnid: i for i, wnid in enumerate(all_wnids)}
    unknown = [w for w in wnids if w not in index_of]
    if unknown:
        raise DatasetError(f"root: class folders {unknown[:5]} are not ImageNet wnids")
    labels = np.asarray([index_of[wnids[k]] for k in folder_labels], dtype=np.int64)
    return _folder_chunks(root, files, labels, _imagenet_categories(), spec, "eval", seed, chunk_size)


def _extract_or_download(archive: Path, md5: str, download: Callable[[], Any], host: str, placement: str) -> Any:
    """Run torchvision's ``download``: with ``archive`` in place (md5 checked first) it only
    extracts, touching no network; otherwise it downloads via :func:`fetch_or_explain`."""
    from torchvision.datasets.utils import check_integrity

    if not archive.is_file():
        return fetch_or_explain(download, host, placement)
    if not check_integrity(str(archive), md5):
        raise DownloadError(f"{archive} is incomplete or corrupt (md5 is not {md5}); replace it. {placement}")
    return download()


def _stage_imagenette(spec: dict[str, Any], split: str, seed: int, chunk_size: int) -> _Staging:
    """Imagenette (torchvision download into ``root``); labels are ImageNet-1k class indices."""
    import torchvision

    root = Path(spec.get("root", "data"))
    size = spec.get("size", "160px")
    if size not in IMAGENETTE_SIZES:
        raise DatasetError(f"size: {size!r} unknown for imagenette; allowed: {', '.join(IMAGENETTE_SIZES)}")
    folder = root / IMAGENETTE_SIZES[size]
    archive = root / f"{IMAGENETTE_SIZES[size]}.tgz"
    tv_split = "val" if split == "eval" else "train"
    if not folder.is_dir():
        placement = (
            f"could not download Imagenette ({archive.name}); place the extracted folder at {folder}/ "
            f"(train/ and val/ with wnid class folders) or the archive at {archive}"
        )

        def download() -> Any:
            return torchvision.datasets.Imagenette(str(root), split=tv_split, size=size, download=True)

        md5 = torchvision.datasets.Imagenette._ARCHIVES[size][1]
        _extract_or_download(archive, md5, download, "s3.amazonaws.com", placement)
    image_root = folder / tv_split
    files, folder_labels, wnids = list_image_folder(image_root)
    unknown = [w for w in wnids if w not in IMAGENETTE_TO_IMAGENET]
    if unknown:
        raise DatasetError(f"root: {image_root} has class folders {unknown[:5]} that are not Imagenette wnids")
    labels = np.asarray([IMAGENETTE_TO_IMAGENET[wnids[k]] for k in folder_labels], dtype=np.int64)
    subset_spec = dict(spec) if split == "eval" else {**spec, "n_images": 0}
    return _folder_chunks(image_root, files, labels, _imagenet_categories(), subset_spec, split, seed, chunk_size)


def _stage_cifar10(spec: dict[str, Any], split: str, seed: int, chunk_size: int) -> _Staging:
    """CIFAR-10 (torchvision download into ``root``) test set for "eval", train set for "train";
    the 32 px images are resized (bilinear) to ``image_size`` one chunk at a time (torchvision
    holds the whole 32 px set in memory anyway)."""
    import torchvision

    root = Path(spec.get("root", "data"))
    image_size = int(spec.get("image_size", 32))
    train = split == "train"
    placement = (
        f"could not download CIFAR-10 (cifar-10-python.tar.gz); place cifar-10-python.tar.gz in {root}/ "
        f"(or its extracted folder at {root}/cifar-10-batches-py/)"
    )

    def open_dataset(download: bool) -> Any:
        return torchvision.datasets.CIFAR10(str(root), train=train, download=download)

    try:
        dataset = open_dataset(download=False)
    except RuntimeError:
        dataset = _extract_or_download(
            root / torchvision.datasets.CIFAR10.filename,
            torchvision.datasets.CIFAR10.tgz_md5,
            lambda: open_dataset(download=True),
            "www.cs.toronto.edu",
            placement,
        )
    labels = np.asarray(dataset.targets, dtype=np.int64)
    n = int(spec.get("n_train" if train else "n_images", len(labels)) or len(labels))
    indices = class_balanced_subset(labels, n, seed)
    prefix = "train" if train else "test"
    class_names = list(dataset.classes)

    def chunks() -> Iterator[ImageSet]:
        for start in range(0, len(indices), chunk_size):
            rows = indices[start : start + chunk_size]
            yield ImageSet(
                images=_resize_square(dataset.data[rows], image_size),
                labels=labels[rows],
                ids=[f"{prefix}-{i:05d}" for i in rows],
                class_names=class_names,
            )

    return _Staging(len(indices), [], chunks())


def _resize_square(images: np.ndarray, image_size: int) -> np.ndarray:
    """uint8 (N,S,S,3) images resized (bilinear) to ``image_size``, as a C-contiguous array."""
    if image_size != images.shape[1]:
        images = np.stack(
            [
                np.asarray(Image.fromarray(img).resize((image_size, image_size), Image.Resampling.BILINEAR))
                for img in images
            ]
        )
    return np.ascontiguousarray(images)


def _stage_shapes(spec: dict[str, Any], split: str, seed: int, chunk_size: int) -> _Staging:
    n = int(spec.get("n_images", 200) if split == "eval" else spec.get("n_train", 1500))
    chunks = shapes_chunks(
        n,
        int(spec.get("image_size", 64)),
        spec.get("variant", "plain"),
        seed,
        n_classes=int(spec.get("n_classes", 6)),
        split=split,
        chunk_size=chunk_size,
    )
    return _Staging(n, [], chunks)


def _stage_imagefolder(spec: dict[str, Any], split: str, seed: int, chunk_size: int) -> _Staging:
    if "root" not in spec:
        raise DatasetError("root: missing for kind 'imagefolder' (a folder of <class>/<image> files)")
    root = Path(spec["root"])
    files, labels, class_names = list_image_folder(root, spec.get("classes"))
    return _folder_chunks(root, files, labels, class_names, spec, split, seed, chunk_size)


_STAGERS: dict[str, Callable[[dict[str, Any], str, int, int], _Staging]] = {
    "shapes": _stage_shapes,
    "imagefolder": _stage_imagefolder,
    "imagenet_val": _stage_imagenet_val,
    "imagenette": _stage_imagenette,
    "cifar10": _stage_cifar10,
}


def _staging(spec: dict[str, Any], split: str, seed: int, chunk_size: int) -> _Staging:
    """Dispatch on spec["kind"]; warns (for the caller of the public function) about skipped files."""
    if split not in SPLITS:
        raise DatasetError(f"split: {split!r} unknown; allowed: {', '.join(SPLITS)}")
    kind = spec.get("kind")
    if kind not in _STAGERS:
        raise DatasetError(f"kind: {kind!r} unknown; allowed: {', '.join(DATASET_KINDS)}")
    staging = _STAGERS[kind](spec, split, seed, chunk_size)
    if staging.skipped:
        warnings.warn(
            f"skipped {len(staging.skipped)} unreadable image(s): {', '.join(staging.skipped[:5])}",
            stacklevel=3,
        )
    return staging


def stage_dataset(spec: dict[str, Any], split: str, seed: int) -> ImageSet:
    """Stage split "eval" or "train" of the dataset described by ``spec`` (dispatch on spec["kind"])
    in memory: :func:`stage_dataset_chunks` with every image in one chunk.

    Keys: shapes: variant, n_images, n_train, image_size, n_classes. imagefolder: root, classes,
    n_images, n_train, image_size, min_size, skip_corrupt. imagenet_val: root, synsets (optional), n_images,
    image_size, min_size, skip_corrupt. imagenette: root (default "data"), size, n_images, n_train,
    image_size. cifar10: root (default "data"), n_images, n_train, image_size.
    """
    return next(_staging(spec, split, seed, chunk_size=sys.maxsize).chunks)


def stage_dataset_chunks(
    spec: dict[str, Any], split: str, seed: int, chunk_size: int
) -> tuple[int, Iterator[ImageSet]]:
    """The images of :func:`stage_dataset` as (number of images, consecutive chunks of
    ``chunk_size``), so staging holds one chunk of images at a time.

    The images are chosen before this returns and decoded, generated or resized as the chunks are
    drawn. Image folders with ``skip_corrupt`` decode each candidate file to choose, so a staged
    file is decoded twice; without it a corrupt or too-small file raises when its chunk is drawn.
    Every chunk's ``skipped`` lists all the skipped files.
    """
    staging = _staging(spec, split, seed, chunk_size)
    return staging.n, staging.chunks
