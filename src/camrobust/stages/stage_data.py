"""Stage data: one split of a dataset into an images store (rules/stage_data.smk)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from camrobust import datasets
from camrobust.io.chunks import CHUNK_SIZE
from camrobust.io.images import write_image_chunks

PathLike = str | os.PathLike[str]


def stage_images(
    *, spec: Mapping[str, Any], split: str, seed: int, out: PathLike, chunk_size: int = CHUNK_SIZE
) -> None:
    """Download, generate or read a dataset's ``split`` into an images store, ``chunk_size``
    images at a time."""
    n, chunks = datasets.stage_dataset_chunks(dict(spec), split, seed, chunk_size)
    write_image_chunks(n, chunks, out, attrs={"split": split, "spec": dict(spec)})
