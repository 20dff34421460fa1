"""Score: one (dataset, model, noise, cam) score table (rules/score.smk).

One row per image and severity with RBO and the similarities beside it (the columns of
:func:`camrobust.vocabulary.score_columns`), in (chunk, severity, image) order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from camrobust.core.pairs import ScoredPairs
from camrobust.io.chunks import CHUNK_SIZE, image_chunks
from camrobust.io.images import image_ids
from camrobust.io.maps import pixel_maps
from camrobust.io.store import open_store
from camrobust.io.tables import ParquetAppender

PathLike = str | os.PathLike[str]


def score_cams(
    *,
    clean_store: PathLike,
    segments_store: PathLike,
    clean_predictions: PathLike,
    noisy_predictions: PathLike,
    clean_cams: PathLike,
    noisy_cams: PathLike,
    keys: Mapping[str, str],
    rbo_p: float,
    topk: float,
    out: PathLike,
    chunk_size: int = CHUNK_SIZE,
) -> None:
    """Score every (clean, noisy) CAM pair of one table with RBO (persistence ``rbo_p``) and the
    complementary similarities (IoU of the top ``topk`` pixels, ...); ``keys``: the table's
    dataset, model, noise and cam.

    Maps are post-processed to image resolution chunk by chunk; rows go to the Parquet file as
    one row group per chunk and severity."""
    clean = open_store(clean_store)
    segments = open_store(segments_store)["segments"]
    y_clean_all, y_noisy_all = open_store(clean_predictions)["pred"], open_store(noisy_predictions)["pred"]
    clean_group, noisy_group = open_store(clean_cams), open_store(noisy_cams)
    severities = [int(x) for x in noisy_group["severity"][...]]
    n = int(segments.shape[0])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with ParquetAppender(out) as appender:
        for rows in image_chunks(n, chunk_size):
            pairs = ScoredPairs(
                ids=image_ids(clean, rows),
                labels=np.asarray(clean["labels"][rows]),
                segments=np.asarray(segments[rows]),
                y_clean=np.asarray(y_clean_all[rows])[:, 0],
                y_noisy=np.asarray(y_noisy_all[rows]),
                clean_maps=pixel_maps(clean_group, rows)[:, 0],
                noisy_maps=pixel_maps(noisy_group, rows),
            )
            for frame in pairs.score_frames(keys, severities, rbo_p=rbo_p, topk=topk):
                appender.append(frame)
    if not appender.written:
        raise ValueError(f"{clean_store}: no images to score")
