"""The one chunker: consecutive slices of images, for every stage and kernel that streams.

A stage that runs no model reads :data:`CHUNK_SIZE` images at a time; a stage that runs a model
reads one model batch at a time, a whole number of images whose image-severity rows fill about
``batch_size`` rows (:func:`model_batches`). Results never depend on the chunk size; memory does.
"""

from __future__ import annotations

#: Images per chunk of the streaming stages that run no model.
CHUNK_SIZE = 64


def image_chunks(n: int, size: int) -> list[slice]:
    """Consecutive slices of ``range(n)`` of ``size`` images each (the last may be shorter; at
    least one image each)."""
    step = max(1, size)
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def model_batches(n: int, severities: int, batch_size: int) -> list[slice]:
    """Images of each model batch over ``n`` images at ``severities`` severities: about
    ``batch_size`` flattened image-severity rows per batch, whole images, at least one image."""
    return image_chunks(n, batch_size // max(1, severities))
