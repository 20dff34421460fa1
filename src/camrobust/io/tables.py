"""Score tables on disk: Parquet files written row group by row group and read group by group.

A score table (one per dataset, model, noise and CAM) is appended one row group per chunk of
images; the collected file (``results/summary/scores.parquet``) holds the tables one after the
other, so that a reader of one (dataset, model, noise, cam) reads that table's row groups only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

PathLike = str | os.PathLike[str]


class ParquetAppender:
    """Appends DataFrames as row groups of one Parquet file (zstd), with the first frame's schema.

    ``written`` tells whether any frame was appended; the file exists only then."""

    def __init__(self, path: PathLike) -> None:
        self.path = path
        self.writer: Any = None

    @property
    def written(self) -> bool:
        return self.writer is not None

    def append(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self.writer.write_table(table.cast(self.writer.schema))

    def __enter__(self) -> ParquetAppender:
        return self

    def __exit__(self, *_: object) -> None:
        if self.writer is not None:
            self.writer.close()


def first_row_key(path: PathLike, keys: Sequence[str]) -> tuple[str, ...]:
    """The values of ``keys`` in the first row of a Parquet file (a score table's key)."""
    import pyarrow.parquet as pq

    first = pq.ParquetFile(path).read_row_group(0, columns=list(keys))
    return tuple(str(first.column(key)[0]) for key in keys)


def column_names(path: PathLike) -> list[str]:
    """The columns of a Parquet file, from its schema (no rows read)."""
    import pyarrow.parquet as pq

    return list(pq.ParquetFile(path).schema_arrow.names)


def read_score_groups(
    path: PathLike, keys: Sequence[str], columns: Sequence[str]
) -> Iterator[tuple[tuple, pd.DataFrame]]:
    """(key, rows) of every group of ``keys`` in a score file, in sorted key order, one group in
    memory at a time: ``keys`` and ``columns`` of the row groups that hold the key, and only its rows.

    The collected score file has one row group per (dataset, model, noise, cam), so a group of
    those keys, or of fewer, reads its own row groups only.
    """
    import pyarrow.parquet as pq

    keys = list(keys)
    file = pq.ParquetFile(path)
    row_groups: dict[tuple, list[int]] = {}
    for index in range(file.num_row_groups):
        present = file.read_row_group(index, columns=keys).to_pandas().drop_duplicates()
        for key in present.itertuples(index=False, name=None):
            row_groups.setdefault(key, []).append(index)
    for key in sorted(row_groups):
        rows = file.read_row_groups(row_groups[key], columns=list(dict.fromkeys([*keys, *columns]))).to_pandas()
        selected = np.logical_and.reduce([rows[k].to_numpy() == v for k, v in zip(keys, key, strict=True)])
        yield key, rows[selected].reset_index(drop=True)
