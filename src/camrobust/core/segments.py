"""Segmentation regions of clean images, chunk by chunk: the items whose ranking RBO compares."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from camrobust.io.chunks import CHUNK_SIZE, image_chunks

if TYPE_CHECKING:
    import zarr


def segment_chunks(
    images: zarr.Array | np.ndarray,
    method: str,
    params: Mapping[str, Any],
    *,
    chunk_size: int = CHUNK_SIZE,
    progress: bool = True,
) -> Iterator[np.ndarray]:
    """Region labels (n, H, W) int32 of consecutive chunks of clean images (N, H, W, 3), by
    ``method`` (quickshift or slic) with ``params`` (see :func:`camrobust.segmentation.chosen_params`)."""
    from camrobust import segmentation

    chunks = image_chunks(int(images.shape[0]), chunk_size)
    for rows in tqdm(chunks, desc="segments", unit="chunk", disable=not progress):
        yield segmentation.segment(np.asarray(images[rows]), method, **params)
