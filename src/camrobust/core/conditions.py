"""The images of one condition, read chunk by chunk: clean images, or a noise's severities.

A condition's images are (n, H, W, 3) uint8 for the clean images (one severity, 0) or
(n, S, H, W, 3) for the S severities of one noise type; a model sees them flattened to n * S
image-severity rows. The array is a stored one (a Zarr array, read row by row) or one in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from camrobust.io.chunks import model_batches

if TYPE_CHECKING:
    import zarr


class ConditionImages:
    """Images of one condition: clean images (n, H, W, 3) as one severity, 0, or noisy images
    (n, S, H, W, 3) of ``severities``; a stored array or one in memory."""

    def __init__(self, array: zarr.Array | np.ndarray, severities: Sequence[int] = (0,)) -> None:
        self.array = array
        self.clean = array.ndim == 4
        self.severities = [0] if self.clean else [int(s) for s in severities]
        self.n = int(array.shape[0])
        self.image_size = tuple(int(x) for x in array.shape[-3:-1])

    def read(self, rows: slice | Sequence[int]) -> np.ndarray:
        """Images of ``rows`` as (n, S, H, W, 3) uint8."""
        images = read_rows(self.array, rows)
        return images[:, None] if self.clean else images

    def model_batches(self, batch_size: int) -> list[slice]:
        """The images of each model batch: about ``batch_size`` image-severity rows, whole images."""
        return model_batches(self.n, len(self.severities), batch_size)


def read_rows(array: zarr.Array | np.ndarray, rows: slice | Sequence[int]) -> np.ndarray:
    """Rows of an array: a slice, or the listed indices (each reads its own chunk of a stored array)."""
    if isinstance(rows, slice):
        return np.asarray(array[rows])
    return np.stack([np.asarray(array[int(i)]) for i in rows]) if len(rows) else np.asarray(array[0:0])


def flat(values: np.ndarray) -> np.ndarray:
    """(n, S, ...) -> (n*S, ...): the model's view of the images of a condition."""
    return values.reshape(-1, *values.shape[2:])


def per_image(data: np.ndarray, severities: int) -> np.ndarray:
    """(n*S, ...) -> (n, S, ...)."""
    return data.reshape(-1, severities, *data.shape[1:])
