"""The sensitivity of the conclusions to the metric's settings (rules/sensitivity.smk): RBO of the
cached CAM pairs under other settings, and the summary of whether the CAM ranking changes.

Only segments (another method, in its own store) and RBO are recomputed; the CAMs, predictions and
the main scores are read as the main workflow wrote them, and nothing of theirs is rewritten.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from camrobust import vocabulary
from camrobust.io.chunks import CHUNK_SIZE, image_chunks
from camrobust.io.images import image_ids
from camrobust.io.maps import pixel_maps
from camrobust.io.store import open_store
from camrobust.io.tables import ParquetAppender, first_row_key, read_score_groups

PathLike = str | os.PathLike[str]
KEY_COLUMNS: tuple[str, ...] = (*vocabulary.SCORE_KEYS, *vocabulary.PAIR_KEYS, "changed")
"""The columns of a sensitivity table before its one RBO column per setting."""


def score_sensitivity(
    *,
    clean_store: PathLike,
    segment_stores: Mapping[str, PathLike],
    clean_predictions: PathLike,
    noisy_predictions: PathLike,
    clean_cams: Mapping[str, PathLike],
    noisy_cams: Mapping[str, PathLike],
    keys: Mapping[str, str],
    settings: Sequence[Mapping[str, Any]],
    out: PathLike,
    chunk_size: int = CHUNK_SIZE,
) -> None:
    """RBO of every (clean, noisy) CAM pair of one (dataset, model, noise) (``keys``), for every
    CAM (cam -> store in ``clean_cams`` and ``noisy_cams``), under each of ``settings`` ({name,
    rbo_p, segmentation}; ``segment_stores``: segmentation method -> store): one row per CAM, image
    and severity with :data:`KEY_COLUMNS` and one column per setting name."""
    from camrobust.scoring.pairs import rbo_by_persistence

    clean = open_store(clean_store)
    segments = {method: open_store(path)["segments"] for method, path in segment_stores.items()}
    y_clean_all, y_noisy_all = open_store(clean_predictions)["pred"], open_store(noisy_predictions)["pred"]
    stores = {cam: (open_store(clean_cams[cam]), open_store(noisy_cams[cam])) for cam in clean_cams}
    first_noisy = next(iter(stores.values()))[1]
    severities = [int(x) for x in first_noisy["severity"][...]]
    by_method: dict[str, list[Mapping[str, Any]]] = {}
    for setting in settings:
        by_method.setdefault(str(setting["segmentation"]), []).append(setting)
    names = [str(setting["name"]) for setting in settings]
    n = int(clean["images"].shape[0])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with ParquetAppender(out) as appender:
        for rows in image_chunks(n, chunk_size):
            ids = image_ids(clean, rows)
            y_clean, y_noisy = np.asarray(y_clean_all[rows])[:, 0], np.asarray(y_noisy_all[rows])
            labels = {method: np.asarray(segments[method][rows]) for method in by_method}
            for cam, (clean_group, noisy_group) in stores.items():
                clean_maps, noisy_maps = pixel_maps(clean_group, rows)[:, 0], pixel_maps(noisy_group, rows)
                for index, severity in enumerate(severities):
                    frame = pd.DataFrame({**dict(keys), "cam": cam, "severity": severity, "image_id": ids})
                    frame["changed"] = y_clean != y_noisy[:, index]
                    for method, chosen in by_method.items():
                        ps = sorted({float(setting["rbo_p"]) for setting in chosen})
                        values = rbo_by_persistence(clean_maps, noisy_maps[:, index], labels[method], ps)
                        for setting in chosen:
                            frame[str(setting["name"])] = values[float(setting["rbo_p"])]
                    appender.append(frame[[*KEY_COLUMNS, *names]])
    if not appender.written:
        raise ValueError(f"{clean_store}: no images to score")


def summarise_sensitivity(
    *, scores: PathLike, tables: Sequence[PathLike], n_boot: int, ci: float, min_n: int, seed: int, out: PathLike
) -> pd.DataFrame:
    """Per (dataset, model), noise and setting, Kendall's tau of the setting's CAM ranking with
    the main one (:mod:`camrobust.analysis.sensitivity`): the main RBO from the collected scores,
    the settings' from the sensitivity ``tables``, one (dataset, model) in memory at a time; as CSV."""
    from camrobust.analysis.sensitivity import SENSITIVITY_COLUMNS, Setting, sensitivity_rows

    paths = {first_row_key(path, ("dataset", "model", "noise")): path for path in tables}
    columns = [*KEY_COLUMNS, vocabulary.RBO.name]
    experiments: dict[tuple[str, str], list[pd.DataFrame]] = {}
    current: tuple[str, str, str] | None = None
    alternatives: dict[str, pd.DataFrame] = {}
    for key, main in read_score_groups(scores, vocabulary.SCORE_KEYS, columns):
        dataset, model, noise, cam = (str(part) for part in key)
        path = paths.get((dataset, model, noise))
        if path is None:
            continue
        if current != (dataset, model, noise):  # one noise's settings table in memory at a time
            current = (dataset, model, noise)
            alternatives = {str(name): rows for name, rows in pd.read_parquet(path).groupby("cam")}
        alternative = alternatives[cam].drop(columns=list(vocabulary.SCORE_KEYS))
        merged = main.merge(alternative, on=list(vocabulary.PAIR_KEYS), suffixes=("", "_setting"))
        if len(merged) != len(main) or not (merged["changed"] == merged["changed_setting"]).all():
            raise ValueError(f"{path}: pairs or predictions differ from the main scores of {key}")
        experiments.setdefault((dataset, model), []).append(merged.drop(columns="changed_setting"))
    frames = []
    for tables_of_experiment in experiments.values():
        names = [
            column for column in tables_of_experiment[0].columns if column not in (*KEY_COLUMNS, vocabulary.RBO.name)
        ]
        chosen = [Setting.parse(name) for name in names]
        frames.append(sensitivity_rows(tables_of_experiment, chosen, n_boot=n_boot, ci=ci, min_n=min_n, seed=seed))
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(SENSITIVITY_COLUMNS))
    result.to_csv(out, index=False)
    return result
