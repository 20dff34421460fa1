"""Image stores: the staged images of a dataset, and the images of a condition read from a store.

- images store (stage data): ``images`` (image, y, x, channel) uint8, ``labels``, ``ids``,
  optional ``masks``; attrs ``class_names`` and ``skipped`` (files left out).
- noisy store (noisy images): ``images`` (image, severity, y, x, channel) uint8, ``severity``
  (severity,); attacks add ``clean_pred`` and ``adv_pred`` (image, severity).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import zarr

from camrobust.core.conditions import ConditionImages
from camrobust.datasets import ImageSet
from camrobust.io.chunks import CHUNK_SIZE, image_chunks
from camrobust.io.store import ShardStream, open_store, store_writer

PathLike = str | os.PathLike[str]
NOISY_DIMS = ("image", "severity", "y", "x", "channel")


def write_images(
    images: ImageSet, path: PathLike, *, attrs: Mapping[str, Any] | None = None, chunk_size: int = CHUNK_SIZE
) -> None:
    """Store an :class:`ImageSet` (the stage-data output), written chunk by chunk."""
    chunks = (
        ImageSet(
            images=images.images[rows],
            labels=images.labels[rows],
            ids=images.ids[rows],
            class_names=images.class_names,
            masks=None if images.masks is None else images.masks[rows],
            skipped=images.skipped,
        )
        for rows in image_chunks(len(images), chunk_size)
    )
    write_image_chunks(len(images), chunks, path, attrs=attrs)


def write_image_chunks(
    n: int, chunks: Iterator[ImageSet], path: PathLike, *, attrs: Mapping[str, Any] | None = None
) -> None:
    """Store ``n`` images that arrive as consecutive :class:`ImageSet` chunks (only the ids, short
    strings, are gathered and written at the end)."""
    with store_writer(path, attrs) as writer:
        streams: dict[str, ShardStream] = {}
        ids: list[str] = []
        for chunk in chunks:
            arrays = {
                "images": (chunk.images, ("image", "y", "x", "channel")),
                "labels": (chunk.labels.astype(np.int64), ("image",)),
            }
            if chunk.masks is not None:
                arrays["masks"] = (chunk.masks.astype(bool), ("image", "y", "x"))
            for name, (data, dims) in arrays.items():
                if name not in streams:
                    streams[name] = writer.stream(name, (n, *data.shape[1:]), data.dtype, dims)
                streams[name].append(data)
            ids.extend(chunk.ids)
            writer.group.attrs.update({"class_names": list(chunk.class_names), "skipped": list(chunk.skipped)})
        writer.add("ids", np.asarray(ids, dtype=str), ("image",))


def read_images(path: PathLike) -> ImageSet:
    """Load a whole clean images store (model training)."""
    group = open_store(path)
    masks = np.asarray(group["masks"][...]) if "masks" in group else None
    return ImageSet(
        images=np.asarray(group["images"][...]),
        labels=np.asarray(group["labels"][...]),
        ids=[str(i) for i in group["ids"][...]],
        class_names=list(group.attrs["class_names"]),
        masks=masks,
    )


def open_condition(path: PathLike) -> ConditionImages:
    """The images of a clean or noisy store, read chunk by chunk."""
    group = open_store(path)
    clean = group["images"].ndim == 4
    return ConditionImages(group["images"], (0,) if clean else [int(s) for s in group["severity"][...]])


def image_ids(group: zarr.Group, rows: slice = slice(None)) -> list[str]:
    """The ids of ``rows`` of an images store."""
    return [str(i) for i in group["ids"][rows]]
