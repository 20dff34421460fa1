"""Zarr stores: one directory per job output, sharded, written atomically and in order.

Every numeric array is a Zarr v3 array with one shard along its first axis (images), so a store
is one file per array plus its metadata at any number of images. Inside the shard, chunks hold
a fixed number of images chosen from the bytes per image (about :data:`CHUNK_BYTES`), so reading
one image reads one chunk. Writers append images in order: :class:`ShardStream` encodes each
chunk as soon as it is full and appends it to the shard file, so a job holds at most one chunk
per array in memory, whatever the number of images.

Arrays carry dimension names, so ``xarray.open_zarr(path)`` gives a labelled Dataset. A store is
first written to a temporary sibling directory and renamed into place when complete: a killed
job never leaves a half store that looks finished. Its attributes carry :data:`STORE_FORMAT`;
:func:`open_store` refuses a store of another layout instead of misreading it.
"""

from __future__ import annotations

import math
import os
import shutil
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import google_crc32c
import numpy as np
import zarr
from numcodecs import Blosc, Zstd
from zarr.abc.codec import BytesBytesCodec

ArraySpec = tuple[np.ndarray, tuple[str, ...]]

#: Layout version written to every store's attributes under :data:`FORMAT_KEY`. Version 2: one
#: shard per array, CAM stores hold raw maps on the target layer's grid.
STORE_FORMAT = 2
FORMAT_KEY = "camrobust_store_format"

#: Target uncompressed size of one chunk; a chunk holds at least one and at most 256 images.
CHUNK_BYTES = 1 << 20
MAX_CHUNK_ITEMS = 256
#: Chunks are zstd-compressed; arrays of multi-byte values (float, int) go through Blosc's byte
#: shuffle first, which groups the bytes of equal significance and compresses floats far better.
ZSTD_LEVEL = 3
_EMPTY = np.uint64(2**64 - 1)


class StoreFormatError(RuntimeError):
    """A store written in another layout than this version of camrobust reads."""


def chunk_items(shape: tuple[int, ...], dtype: Any) -> int:
    """Images per chunk of an array: about CHUNK_BYTES, at least 1, at most MAX_CHUNK_ITEMS and N."""
    item_bytes = math.prod(shape[1:]) * np.dtype(dtype).itemsize
    return int(max(1, min(MAX_CHUNK_ITEMS, shape[0], CHUNK_BYTES // max(1, item_bytes))))


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


def _compression(dtype: np.dtype) -> tuple[BytesBytesCodec, Blosc | Zstd]:
    """The Zarr compressor of an array's metadata and the numcodecs codec that encodes its chunks
    identically: Blosc (zstd, byte shuffle) for multi-byte values, plain zstd for bytes."""
    if dtype.itemsize == 1:
        return zarr.codecs.ZstdCodec(level=ZSTD_LEVEL), Zstd(level=ZSTD_LEVEL)
    codec = zarr.codecs.BloscCodec(cname="zstd", clevel=ZSTD_LEVEL, shuffle="shuffle", typesize=dtype.itemsize)
    return codec, Blosc(cname="zstd", clevel=ZSTD_LEVEL, shuffle=Blosc.SHUFFLE, typesize=dtype.itemsize)


class ShardStream:
    """A numeric array written image by image into one Zarr v3 shard (file ``<name>/c/0/...``).

    The shard file is the sequence of zstd-compressed chunks followed by the shard index
    (offset, length) per chunk as little-endian uint64 and its CRC32C, as Zarr's sharding codec
    writes it, so Zarr and xarray read it like any sharded array.
    """

    def __init__(self, group: zarr.Group, name: str, shape: tuple[int, ...], dtype: Any, dims: tuple[str, ...]) -> None:
        if len(shape) != len(dims):
            raise ValueError(f"array {name!r} has {len(shape)} axes but {len(dims)} dimension names {dims}")
        self.name, self.shape = name, tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype).newbyteorder("<")
        self.items = chunk_items(self.shape, self.dtype)
        n_chunks = max(1, math.ceil(self.shape[0] / self.items))
        compressor, self._codec = _compression(self.dtype)
        group.create_array(
            name,
            shape=self.shape,
            dtype=np.dtype(dtype),
            chunks=(self.items, *self.shape[1:]),
            shards=(n_chunks * self.items, *self.shape[1:]),
            compressors=compressor,
            dimension_names=dims,
        )
        shard = Path(group.store.root, name, "c", *["0"] * len(self.shape))
        shard.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = open(shard, "wb")  # noqa: SIM115 (open while images arrive; closed by close or abandon)
        self._index = np.full((n_chunks, 2), _EMPTY, dtype="<u8")
        self._pending: list[np.ndarray] = []
        self._pending_items = 0
        self._chunks_written = 0
        self._offset = 0
        self.written = 0

    def append(self, data: np.ndarray) -> None:
        """Append the next ``len(data)`` images (any number) along the first axis."""
        data = np.asarray(data)
        if data.shape[1:] != self.shape[1:]:
            raise ValueError(f"array {self.name!r}: appended block {data.shape} does not match {self.shape}")
        if self.written + len(data) > self.shape[0]:
            raise ValueError(f"array {self.name!r}: more than {self.shape[0]} images appended")
        self.written += len(data)
        self._pending.append(data.astype(self.dtype, copy=False))
        self._pending_items += len(data)
        while self._pending_items >= self.items:
            block = np.concatenate(self._pending)
            self._write_chunk(block[: self.items])
            rest = block[self.items :]
            self._pending, self._pending_items = ([rest] if len(rest) else []), len(rest)

    def _write_chunk(self, block: np.ndarray) -> None:
        if len(block) < self.items:  # the last chunk is stored full size, padded with the fill value 0
            block = np.concatenate([block, np.zeros((self.items - len(block), *self.shape[1:]), self.dtype)])
        encoded = self._codec.encode(np.frombuffer(np.ascontiguousarray(block).tobytes(), np.uint8))
        self._file.write(encoded)
        self._index[self._chunks_written] = (self._offset, len(encoded))
        self._offset += len(encoded)
        self._chunks_written += 1

    def abandon(self) -> None:
        """Close the shard file of a failed job (its directory is removed)."""
        self._file.close()

    def close(self) -> None:
        """Write the last, partial chunk and the shard index; every image must have been appended."""
        if self.written != self.shape[0]:
            raise ValueError(f"array {self.name!r}: {self.written} of {self.shape[0]} images written")
        if self._pending_items:
            self._write_chunk(np.concatenate(self._pending))
        if self._chunks_written:
            index = self._index.reshape(self._index.shape[0], *[1] * (len(self.shape) - 1), 2).tobytes()
            self._file.write(index + np.uint32(google_crc32c.value(index)).tobytes())
        self._file.close()
        if not self._chunks_written:
            Path(self._file.name).unlink()


class StoreWriter:
    """Arrays of a store under construction: streamed numeric arrays and small whole arrays."""

    def __init__(self, group: zarr.Group) -> None:
        self.group = group
        self.streams: list[ShardStream] = []

    def stream(self, name: str, shape: tuple[int, ...], dtype: Any, dims: tuple[str, ...]) -> ShardStream:
        """An empty sharded array, filled in order with :meth:`ShardStream.append`."""
        stream = ShardStream(self.group, name, shape, dtype, dims)
        self.streams.append(stream)
        return stream

    def add(self, name: str, data: np.ndarray, dims: tuple[str, ...]) -> None:
        """A whole array at once (strings are stored unsharded, in one chunk)."""
        data = np.asarray(data)
        if data.ndim != len(dims):
            raise ValueError(f"array {name!r} has {data.ndim} axes but {len(dims)} dimension names {dims}")
        if data.dtype.kind in "UOT":  # numpy str, object or StringDType
            array = self.group.create_array(name, shape=data.shape, dtype=str, dimension_names=dims)
            array[...] = np.array([str(item) for item in data.ravel()], dtype=object).reshape(data.shape)
        else:
            self.stream(name, data.shape, data.dtype, dims).append(data)


@contextmanager
def store_writer(path: str | os.PathLike[str], attrs: Mapping[str, Any] | None = None) -> Iterator[StoreWriter]:
    """Build a store incrementally; it appears at ``path`` only when the block completes."""
    with atomic_directory(path) as temporary:
        group = zarr.open_group(temporary, mode="w")
        writer = StoreWriter(group)
        try:
            yield writer
        except BaseException:
            for stream in writer.streams:
                stream.abandon()
            raise
        for stream in writer.streams:
            stream.close()
        group.attrs.update({**dict(attrs or {}), FORMAT_KEY: STORE_FORMAT})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zarr.consolidate_metadata(temporary)


def write_store(
    path: str | os.PathLike[str], arrays: Mapping[str, ArraySpec], attrs: Mapping[str, Any] | None = None
) -> None:
    """Write ``arrays`` (name -> (data, dimension names)) and ``attrs`` as one store."""
    with store_writer(path, attrs) as writer:
        for name, (data, dims) in arrays.items():
            writer.add(name, data, dims)


def open_store(path: str | os.PathLike[str]) -> zarr.Group:
    """Open a finished store read-only; a store of another layout raises :class:`StoreFormatError`."""
    if not Path(path, "zarr.json").exists():
        raise FileNotFoundError(f"no Zarr store at {path}")
    group = zarr.open_group(path, mode="r")
    found = group.attrs.get(FORMAT_KEY)
    if found != STORE_FORMAT:
        raise StoreFormatError(
            f"{path}: store layout {found or 1} is not layout {STORE_FORMAT} of this camrobust version; "
            f"rerun the stage that writes it (delete {path}, or run snakemake with --forcerun on it)"
        )
    return group


def read_array(path: str | os.PathLike[str], name: str) -> np.ndarray:
    """Read one whole array of a store (for arrays small at any N: severities, attributes)."""
    return np.asarray(open_store(path)[name][...])
