"""The scores of (clean, noisy) CAM pairs as rows of a score table.

A score table holds one (dataset, model, noise, cam): one row per image and severity with the
image's label, the clean and noisy predictions, whether the noise changed the prediction, the
number of regions, every similarity (:func:`camrobust.scoring.pair_similarities`) and a note;
the columns are :func:`camrobust.vocabulary.score_columns`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from camrobust import vocabulary
from camrobust.core.maps import upsampled_maps
from camrobust.io.chunks import CHUNK_SIZE, image_chunks

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ScoredPairs:
    """The (clean, noisy) CAM pairs of a chunk of n images at S severities: image ids and labels,
    clean segments (n, H, W), clean predictions (n,), noisy predictions (n, S), clean maps
    (n, H, W) and noisy maps (n, S, H, W) at image resolution."""

    ids: list[str]
    labels: np.ndarray
    segments: np.ndarray
    y_clean: np.ndarray
    y_noisy: np.ndarray
    clean_maps: np.ndarray
    noisy_maps: np.ndarray

    def score_frames(
        self, keys: Mapping[str, str], severities: Sequence[int], *, rbo_p: float, topk: float
    ) -> Iterator[pd.DataFrame]:
        """One score-table frame per severity: ``keys`` (dataset, model, noise, cam), then per
        image its predictions, ``changed``, ``n_regions``, the similarities (RBO with persistence
        ``rbo_p``, the IoU of the top ``topk`` pixels, ...) and the note."""
        import pandas as pd

        from camrobust.scoring import pair_similarities

        for index, severity in enumerate(severities):
            similarity = pair_similarities(
                self.clean_maps, self.noisy_maps[:, index], self.segments, p=rbo_p, topk=topk
            )
            frame = pd.DataFrame(
                {
                    **dict(keys),
                    "severity": severity,
                    "image_id": self.ids,
                    "label": self.labels.astype(np.int64),
                    "y_clean": self.y_clean.astype(np.int64),
                    "y_noisy": self.y_noisy[:, index].astype(np.int64),
                }
            )
            frame["changed"] = frame["y_clean"] != frame["y_noisy"]
            frame[vocabulary.N_REGIONS] = np.asarray(similarity[vocabulary.N_REGIONS], dtype=np.int64)
            for column in vocabulary.similarity_columns(topk):
                frame[column] = np.asarray(similarity[column], dtype=np.float64)
            frame[vocabulary.NOTE] = np.asarray(similarity[vocabulary.NOTE], dtype=str)
            yield frame


def collected_order(table: pd.DataFrame) -> pd.DataFrame:
    """One (dataset, model, noise, cam) score table in the order of the collected table:
    by severity, then image id."""
    return table.sort_values(list(vocabulary.PAIR_KEYS), kind="stable")


def score_table(
    keys: Mapping[str, str],
    severities: Sequence[int],
    *,
    ids: Sequence[str],
    labels: np.ndarray,
    segments: np.ndarray,
    y_clean: np.ndarray,
    y_noisy: np.ndarray,
    clean_raw: np.ndarray,
    noisy_raw: np.ndarray,
    rbo_p: float,
    topk: float,
    chunk_size: int = CHUNK_SIZE,
) -> pd.DataFrame:
    """The score table of raw maps in memory, in collected order: the clean maps (n, 1, h, w)
    and noisy maps (n, S, h, w) of n images are brought to the segments' resolution (n, H, W)
    and scored ``chunk_size`` images at a time, as the score stage does with stored maps; ``y_clean``
    (n,) and ``y_noisy`` (n, S) are the predictions."""
    import pandas as pd

    image_size = segments.shape[1:]
    frames: list[pd.DataFrame] = []
    for rows in image_chunks(len(ids), chunk_size):
        pairs = ScoredPairs(
            ids=list(ids[rows]),
            labels=labels[rows],
            segments=segments[rows],
            y_clean=y_clean[rows],
            y_noisy=y_noisy[rows],
            clean_maps=upsampled_maps(clean_raw[rows], image_size)[:, 0],
            noisy_maps=upsampled_maps(noisy_raw[rows], image_size),
        )
        frames.extend(pairs.score_frames(keys, severities, rbo_p=rbo_p, topk=topk))
    return collected_order(pd.concat(frames, ignore_index=True))
