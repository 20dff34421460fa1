"""Model randomisation per (dataset, model, CAM) and its summary (rules/randomisation.smk).

:func:`randomise_model` runs the cascading randomisation of :mod:`camrobust.sanity` on an evenly
spaced subset of the evaluation images (:func:`subset_indices`), one model batch at a time: the
randomised weights depend only on (seed, stage, module), so the table does not depend on the
batch size or on which images share a batch. Its table has one row per image and stage:
``stage_index`` (1 = the logits' stage randomised; the last = every stage), ``stage``, the
similarities rbo, pixel_spearman, ssim (and the other similarities of a score table).

:func:`summarise_randomisation` gives per (dataset, model, cam, stage) the mean of each
similarity over images with a percentile bootstrap CI over images
(:mod:`camrobust.analysis.bootstrap`); ``full_randomisation`` marks the last stage, whose values
are the randomisation similarity of the CAM (``vocabulary.RANDOMISATION``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from camrobust import vocabulary
from camrobust.analysis.bootstrap import check_settings, image_draws, percentile_interval, support_reason
from camrobust.core.maps import register_cam_plugin
from camrobust.core.model import ModelInput
from camrobust.io.chunks import image_chunks
from camrobust.io.store import open_store
from camrobust.io.tables import ParquetAppender
from camrobust.seeding import image_generator
from camrobust.stages.get_model import load_model

PathLike = str | os.PathLike[str]
SIMILARITIES: tuple[str, ...] = (vocabulary.RBO.name, vocabulary.PIXEL_SPEARMAN.name, vocabulary.SSIM.name)
"""The per-stage similarities of the summary, in the order of ``vocabulary.RANDOMISATION``."""
KEYS: tuple[str, ...] = ("dataset", "model", "cam")
SUMMARY_COLUMNS: tuple[str, ...] = (
    *KEYS,
    "stage_index",
    "stage",
    "full_randomisation",
    "n",
    *(column for name in SIMILARITIES for column in (name, f"{name}_lo", f"{name}_hi")),
    "reason",
)


def subset_indices(n: int, n_images: int) -> np.ndarray:
    """``min(n, n_images)`` image indices evenly spaced over ``range(n)``: floor(i n / k), i < k."""
    k = min(n, n_images)
    return (np.arange(k, dtype=np.int64) * n) // max(k, 1)


def randomise_model(
    *,
    clean_store: PathLike,
    segments_store: PathLike,
    predictions_store: PathLike,
    card_path: PathLike,
    weights_path: PathLike,
    method: str,
    keys: Mapping[str, str],
    n_images: int,
    stages: Sequence[str] | None,
    rbo_p: float,
    topk: float,
    seed: int,
    batch_size: int,
    channel_batch_size: int,
    device: str,
    out: PathLike,
    plugin: Mapping[str, Any] | None = None,
) -> None:
    """The randomisation table of the CAM ``method`` on ``n_images`` evaluation images, explaining
    the trained model's CAM targets (the clean predictions store's); ``stages``: module paths from
    the logits down, None = derived. ``plugin``: the method's ``cam_plugins`` entry."""
    import torch

    from camrobust import cams
    from camrobust.sanity import cascading_randomisation, randomisation_stages

    if plugin is not None:
        register_cam_plugin(method, plugin)
    clean = open_store(clean_store)
    segments = open_store(segments_store)["segments"]
    targets = open_store(predictions_store)["target"]
    model, card = load_model(card_path, weights_path, device)
    model_input = ModelInput.of_card(card, device=device, batch_size=batch_size)
    size = tuple(clean["images"].shape[1:3])
    chosen = subset_indices(int(clean["images"].shape[0]), n_images)
    example = model_input.tensor(np.asarray(clean["images"][:1]))
    try:
        paths = randomisation_stages(model, example, stages)
    except ValueError as error:
        raise ValueError(
            f"randomisation of model {keys['model']!r} ({type(model).__name__}): {error}. In the config: "
            f"randomisation: {{stages: {{{keys['model']}: [...]}}}}"
        ) from None
    map_function = cams.cam_map_function(
        method,
        card.target_layer,
        reshape=cams.token_reshape(model, size),
        batch_size=channel_batch_size if method in cams.MODEL_METHODS else batch_size,
    )
    with ParquetAppender(out) as appender:
        for rows in image_chunks(len(chosen), batch_size):
            index = chosen[rows]
            result = cascading_randomisation(
                model,
                model_input.tensor(np.asarray(clean["images"].get_orthogonal_selection((index,)))),
                np.asarray(segments.get_orthogonal_selection((index,))),
                map_function,
                targets=torch.as_tensor(
                    np.asarray(targets.get_orthogonal_selection((index, 0))), device=example.device
                ),
                stages=paths,
                seed=seed,
                p=rbo_p,
                topk=topk,
                batch_size=len(index),
            )
            ids = [str(i) for i in clean["ids"].get_orthogonal_selection((index,))]
            frame = pd.DataFrame(result.columns(ids))
            for position, (name, value) in enumerate(keys.items()):
                frame.insert(position, name, value)
            appender.append(frame)
    if not appender.written:
        raise ValueError(f"{clean_store}: no images to randomise")


def summarise_randomisation(
    *, tables: Sequence[PathLike], n_boot: int, ci: float, seed: int, min_n: int, out: PathLike
) -> pd.DataFrame:
    """randomisation.csv: per (dataset, model, cam, stage) the mean over images of rbo,
    pixel_spearman and ssim (NaN pairs left out) with percentile bootstrap CIs over images, the
    generator seeded by the row's key; fewer than ``min_n`` images give no interval (``reason``).
    One table in memory at a time."""
    check_settings(n_boot, ci, min_n)
    rows = []
    for path in tables:
        table = pd.read_parquet(path, columns=[*KEYS, "image_id", "stage_index", "stage", *SIMILARITIES])
        last = int(table["stage_index"].max())
        for key, group in table.groupby([*KEYS, "stage_index", "stage"], sort=True):
            row: dict[str, Any] = dict(zip([*KEYS, "stage_index", "stage"], key, strict=True))
            row |= {"full_randomisation": int(row["stage_index"]) == last, "n": len(group)}
            reasons = []
            for name in SIMILARITIES:
                values = group[name].to_numpy(dtype=np.float64)
                values = values[np.isfinite(values)]
                mean = float(values.mean()) if len(values) else np.nan
                thin = support_reason(f"images_{name}", len(values), min_n)
                if thin or not n_boot:
                    low, high = np.nan, np.nan
                else:
                    draws = image_draws(
                        len(values), n_boot, image_generator("randomisation_bootstrap", seed, *key, name)
                    )
                    low, high = percentile_interval(values[draws].mean(axis=1), ci)
                reasons += [thin] if thin else []
                row |= {name: mean, f"{name}_lo": low, f"{name}_hi": high}
            row["reason"] = "; ".join(reasons)
            rows.append(row)
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    frame = frame.sort_values([*KEYS, "stage_index"], kind="stable").reset_index(drop=True)
    frame.to_csv(out, index=False)
    return frame


def plot_randomisation(*, table: PathLike, baselines: bool, out: PathLike, formats: Sequence[str] = ()) -> None:
    """The figure of randomisation.csv; ``baselines``: the config names model-free baselines."""
    from camrobust import plots

    with plots.also_saving(formats):
        plots.randomisation(pd.read_csv(table, keep_default_na=True), Path(out), baselines=baselines)
