"""Segment: the regions of every clean image of a dataset (rules/segment.smk).

Segments store: ``segments`` (image, y, x) int32 and ``n_regions`` (image,); attrs ``method`` and
the ``params`` used (chosen from the image size where not given).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from camrobust.core.segments import segment_chunks
from camrobust.io.chunks import CHUNK_SIZE
from camrobust.io.store import open_store, store_writer

PathLike = str | os.PathLike[str]


def segment_images(
    *,
    clean_store: PathLike,
    method: str,
    params: Mapping[str, Any] | None,
    out: PathLike,
    chunk_size: int = CHUNK_SIZE,
) -> None:
    """Regions of every clean image by ``method``, ``chunk_size`` images at a time."""
    from camrobust import segmentation

    clean = open_store(clean_store)
    n, h, w, _ = clean["images"].shape
    chosen = segmentation.chosen_params(h, method, params)
    with store_writer(out, {"method": method, "params": chosen}) as writer:
        segments = writer.stream("segments", (n, h, w), "int32", ("image", "y", "x"))
        n_regions = writer.stream("n_regions", (n,), "int64", ("image",))
        for labels in segment_chunks(clean["images"], method, chosen, chunk_size=chunk_size):
            segments.append(labels)
            n_regions.append(segmentation.region_counts(labels))
