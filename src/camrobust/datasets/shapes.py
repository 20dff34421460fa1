"""The synthetic, offline "shapes" set: one object per image, its kind the class, with its mask.

Images are drawn per image from a generator keyed by (split, index, seed), so the set never
depends on how it is chunked, and the eval and train splits are disjoint streams.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from camrobust.datasets.imageset import ImageSet, Staging, check_split
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
    check_split(split)
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


def stage_shapes(spec: dict[str, Any], split: str, seed: int, chunk_size: int) -> Staging:
    """Stage the shapes set of ``spec`` (variant, n_images, n_train, image_size, n_classes)."""
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
    return Staging(n, [], chunks)
