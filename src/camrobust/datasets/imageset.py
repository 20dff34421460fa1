"""Staged images and what can go wrong staging them.

An :class:`ImageSet` holds images at rest: uint8 RGB arrays of one square size with their
labels and ids. A :class:`Staging` is a staging in progress (its images chosen, their chunks
still to come). The errors name the spec key or the file at fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

SPLITS: tuple[str, ...] = ("eval", "train")


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


def check_split(split: str) -> None:
    """DatasetError unless ``split`` is one of :data:`SPLITS`."""
    if split not in SPLITS:
        raise DatasetError(f"split: {split!r} unknown; allowed: {', '.join(SPLITS)}")


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


class Staging(NamedTuple):
    """A staging in progress: the number of images, the files skipped, the chunks still to come."""

    n: int
    skipped: list[str]
    chunks: Iterator[ImageSet]
