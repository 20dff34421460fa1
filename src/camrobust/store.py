"""Zarr stores: one directory per job output, written atomically, readable by xarray.

Arrays carry dimension names, so ``xarray.open_zarr(path)`` gives a labelled Dataset.
A store is first written to a temporary sibling directory and renamed into place when
complete: a killed job never leaves a half store that looks finished.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import zarr

ArraySpec = tuple[np.ndarray, tuple[str, ...]]

#: Leading-axis chunk length of stored arrays (images, maps, activations).
CHUNK_ITEMS = 16


def _chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (min(CHUNK_ITEMS, shape[0]) or 1, *shape[1:]) if shape else ()


@contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory that is renamed to ``path`` only if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed job
    temporary = final.with_name(f".{final.name}.partial-{os.getpid()}")
    try:
        yield temporary
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    shutil.rmtree(final, ignore_errors=True)
    temporary.rename(final)


def _add_array(group: zarr.Group, name: str, data: np.ndarray, dims: tuple[str, ...]) -> None:
    if data.ndim != len(dims):
        raise ValueError(f"array {name!r} has {data.ndim} axes but {len(dims)} dimension names {dims}")
    if data.dtype.kind in "UO":
        array = group.create_array(name, shape=data.shape, dtype=str, dimension_names=dims)
        array[...] = data.astype(str).astype(object)
    else:
        group.create_array(name, data=data, chunks=_chunks(data.shape), dimension_names=dims)


def write_store(
    path: str | os.PathLike[str], arrays: Mapping[str, ArraySpec], attrs: Mapping[str, Any] | None = None
) -> None:
    """Write ``arrays`` (name -> (data, dimension names)) and ``attrs`` as one Zarr store."""
    with store_writer(path, attrs) as writer:
        for name, (data, dims) in arrays.items():
            writer.add(name, data, dims)


class StoreWriter:
    """Arrays of a store under construction, created up front and filled in slices."""

    def __init__(self, group: zarr.Group) -> None:
        self.group = group

    def create(self, name: str, shape: tuple[int, ...], dtype: Any, dims: tuple[str, ...]) -> zarr.Array:
        """An empty array, chunked along its first axis, to be filled batch by batch."""
        if len(shape) != len(dims):
            raise ValueError(f"array {name!r} has {len(shape)} axes but {len(dims)} dimension names {dims}")
        return self.group.create_array(name, shape=shape, dtype=dtype, chunks=_chunks(shape), dimension_names=dims)

    def add(self, name: str, data: np.ndarray, dims: tuple[str, ...]) -> None:
        """A whole array at once."""
        _add_array(self.group, name, np.asarray(data), dims)


@contextmanager
def store_writer(path: str | os.PathLike[str], attrs: Mapping[str, Any] | None = None) -> Iterator[StoreWriter]:
    """Build a store incrementally; it appears at ``path`` only when the block completes."""
    with atomic_directory(path) as temporary:
        group = zarr.open_group(temporary, mode="w")
        yield StoreWriter(group)
        group.attrs.update(dict(attrs or {}))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zarr.consolidate_metadata(temporary)


def open_store(path: str | os.PathLike[str]) -> zarr.Group:
    """Open a finished store read-only."""
    if not Path(path, "zarr.json").exists():
        raise FileNotFoundError(f"no Zarr store at {path}")
    return zarr.open_group(path, mode="r")


def read_array(path: str | os.PathLike[str], name: str) -> np.ndarray:
    """Read one array of a store into memory."""
    return np.asarray(open_store(path)[name][...])
