"""Sharded stores: Zarr-compatible shards written in order, few files, a refused old layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from camrobust.io import store
from camrobust.io.chunks import image_chunks, model_batches


def _files(path: Path) -> dict[str, bytes]:
    return {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file()}


def _write(path: Path, images: np.ndarray, block: int) -> None:
    with store.store_writer(path, {"kind": "test"}) as writer:
        stream = writer.stream("images", images.shape, images.dtype, ("image", "severity", "y", "x", "channel"))
        for rows in image_chunks(len(images), block):
            stream.append(images[rows])
        writer.add("ids", np.array([f"img-{i}" for i in range(len(images))]), ("image",))


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (23, 2, 40, 40, 3), dtype=np.uint8)


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_shard_equals_zarrs_own_sharded_write(images: np.ndarray, tmp_path: Path, dtype: str) -> None:
    data = images.astype(dtype) / (255 if dtype == "float32" else 1)
    _write(tmp_path / "streamed.zarr", data.astype(dtype), 5)
    streamed = store.open_store(tmp_path / "streamed.zarr")["images"]
    assert streamed.shards == (int(np.ceil(23 / streamed.chunks[0])) * streamed.chunks[0], 2, 40, 40, 3)
    reference = zarr.open_group(tmp_path / "zarr.zarr", mode="w").create_array(
        "images",
        shape=data.shape,
        dtype=dtype,
        chunks=streamed.chunks,
        shards=streamed.shards,
        compressors=streamed.compressors,
    )
    reference[...] = data.astype(dtype)
    shard = Path("images", "c", "0", "0", "0", "0", "0")
    assert (tmp_path / "streamed.zarr" / shard).read_bytes() == (tmp_path / "zarr.zarr" / shard).read_bytes()
    assert np.array_equal(streamed[...], data.astype(dtype))
    assert np.array_equal(streamed[17], data[17].astype(dtype))


def test_append_sizes_give_identical_stores_of_few_files(images: np.ndarray, tmp_path: Path) -> None:
    stores = []
    for block in (1, 7, len(images)):
        _write(tmp_path / f"{block}.zarr", images, block)
        stores.append(_files(tmp_path / f"{block}.zarr"))
    assert stores[0] == stores[1] == stores[2]
    assert len(stores[0]) == 5  # group and two array metadata files, one shard, one string chunk


def test_sharded_store_opens_with_xarray(images: np.ndarray, tmp_path: Path) -> None:
    _write(tmp_path / "s.zarr", images, 4)
    dataset = xr.open_zarr(tmp_path / "s.zarr")
    assert dataset["images"].dims == ("image", "severity", "y", "x", "channel")
    assert np.array_equal(dataset["images"][3:9].values, images[3:9])
    assert dataset.attrs[store.FORMAT_KEY] == store.STORE_FORMAT


def test_store_of_the_old_layout_is_refused(tmp_path: Path) -> None:
    old = zarr.open_group(tmp_path / "old.zarr", mode="w")
    old.create_array("maps", data=np.zeros((4, 1, 8, 8), np.float32), chunks=(16, 1, 8, 8))
    with pytest.raises(store.StoreFormatError, match=r"layout 1 .* rerun the stage"):
        store.open_store(tmp_path / "old.zarr")


def test_a_stream_left_short_fails_the_store(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match="3 of 4 images written"),
        store.store_writer(tmp_path / "short.zarr") as writer,
    ):
        writer.stream("x", (4, 2), "float32", ("image", "k")).append(np.zeros((3, 2), np.float32))
    assert not (tmp_path / "short.zarr").exists()


def test_one_chunker_for_chunks_and_model_batches() -> None:
    """Chunks of at most ``size`` images; a model batch holds whole images whose image-severity
    rows fill about ``batch_size`` rows, one image at least."""
    assert image_chunks(7, 3) == [slice(0, 3), slice(3, 6), slice(6, 7)]
    assert image_chunks(0, 3) == [] and image_chunks(2, 0) == [slice(0, 1), slice(1, 2)]
    assert model_batches(7, 2, 6) == image_chunks(7, 3)  # 3 images x 2 severities = 6 rows
    assert model_batches(3, 5, 4) == image_chunks(3, 1)  # one image's 5 rows exceed the batch
    for n, severities, batch_size in ((10, 1, 32), (10, 2, 3), (11, 5, 64)):
        rows = [slice(b.start * severities, b.stop * severities) for b in model_batches(n, severities, batch_size)]
        assert rows[-1].stop == n * severities
        assert all(r.stop - r.start <= max(batch_size, severities) for r in rows)
