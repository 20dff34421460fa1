"""Staging a dataset described by a config spec: dispatch on its ``kind``, whole or in chunks."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from camrobust.datasets.folders import stage_imagefolder
from camrobust.datasets.imagenet import stage_imagenet_val
from camrobust.datasets.imageset import DatasetError, ImageSet, Staging, check_split
from camrobust.datasets.shapes import stage_shapes
from camrobust.datasets.torchvision_sets import stage_cifar10, stage_imagenette
from camrobust.registry import DATASET_KINDS

Stager = Callable[[dict[str, Any], str, int, int], Staging]

STAGERS: dict[str, Stager] = {
    "shapes": stage_shapes,
    "imagefolder": stage_imagefolder,
    "imagenet_val": stage_imagenet_val,
    "imagenette": stage_imagenette,
    "cifar10": stage_cifar10,
}
"""The stager of each dataset kind of :data:`camrobust.registry.DATASET_KINDS`."""


def _staging(spec: dict[str, Any], split: str, seed: int, chunk_size: int) -> Staging:
    """Dispatch on spec["kind"]; warns (for the caller of the public function) about skipped files."""
    check_split(split)
    kind = spec.get("kind")
    if kind not in STAGERS:
        raise DatasetError(f"kind: {kind!r} unknown; allowed: {', '.join(DATASET_KINDS)}")
    staging = STAGERS[kind](spec, split, seed, chunk_size)
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
