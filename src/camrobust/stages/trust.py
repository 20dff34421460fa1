"""Trust: ground-truth masks, faithfulness and localisation tables (rules/trust.smk).

- masks store (one per dataset with ground truth): ``masks`` (image, y, x) bool in the staged
  images' order (:func:`camrobust.datasets.mask_chunks`);
- faithfulness table (one per dataset, model, cam): one row per clean image, the
  :data:`camrobust.vocabulary.FAITHFULNESS` scores of the clean CAM for the explained class;
- localisation table (one per dataset, model, cam): one row per image, condition and severity
  (the clean images as condition ``clean``, severity 0), the
  :data:`camrobust.vocabulary.LOCALISATION` scores. No model pass.

Every job reads its stores one chunk of images at a time; the maps are post-processed on the
device and every score is computed there, only each chunk's scores come back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from camrobust import registry, vocabulary
from camrobust.core.conditions import read_rows
from camrobust.core.trust import FaithfulnessSettings, faithfulness_frame, localisation_frame
from camrobust.datasets.imageset import DatasetError
from camrobust.datasets.masks import mask_chunks
from camrobust.io.chunks import CHUNK_SIZE, image_chunks
from camrobust.io.images import image_ids
from camrobust.io.store import open_store, store_writer
from camrobust.io.tables import ParquetAppender

PathLike = str | os.PathLike[str]
MASK_DIMS = ("image", "y", "x")
FAITHFULNESS_KEYS: tuple[str, ...] = ("dataset", "model", "cam")
"""Key columns of a faithfulness or localisation table: one table per (dataset, model, cam)."""
LOCALISATION_CONDITION: tuple[str, ...] = ("condition", "severity")
"""What tells a localisation table's rows of one image apart: ``clean``/0, or a noise and severity."""


def stage_masks(
    *, spec: Mapping[str, Any], images_store: PathLike, out: PathLike, chunk_size: int = CHUNK_SIZE
) -> None:
    """The ground-truth masks of a dataset's staged images (``spec``: its validated config entry),
    one chunk at a time; DatasetError naming the file for a missing mask, a mask of the wrong size
    or a box file of an unknown class, and then no store is left behind."""
    group = open_store(images_store)
    ids = image_ids(group)
    n, height, width = (int(x) for x in group["images"].shape[:3])
    stored = group["masks"] if "masks" in group else None
    with store_writer(out, {"kind": spec["kind"]}) as writer:
        masks = writer.stream("masks", (n, height, width), "bool", MASK_DIMS)
        for chunk in mask_chunks(dict(spec), ids, chunk_size=chunk_size, stored=stored):
            if chunk.shape[1:] != (height, width):
                raise DatasetError(f"masks: {chunk.shape[2]}x{chunk.shape[1]} px masks for {width}x{height} px images")
            masks.append(chunk)


def score_faithfulness(
    *,
    images_store: PathLike,
    predictions_store: PathLike,
    cam_store: PathLike,
    segments_store: PathLike,
    card_path: PathLike,
    weights_path: PathLike,
    settings: FaithfulnessSettings,
    keys: Mapping[str, str],
    seed: int,
    device: str,
    out: PathLike,
) -> None:
    """The faithfulness table of one CAM store of the clean images (module docstring), for the CAM
    targets of the clean predictions; ``settings.batch_size`` images per chunk, each chunk's
    (image, step) rows ``settings.batch_size`` per forward."""
    from camrobust.core.model import ModelInput
    from camrobust.stages.get_model import load_model

    model, card = load_model(card_path, weights_path, device)
    model_input = ModelInput.of_card(card, device=device, batch_size=settings.batch_size)
    images = open_store(images_store)
    targets = open_store(predictions_store)["target"]
    cam_group, segments = open_store(cam_store), open_store(segments_store)["segments"]
    n = int(images["images"].shape[0])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with ParquetAppender(out) as appender:
        for rows in image_chunks(n, settings.batch_size):
            frame = faithfulness_frame(
                model,
                model_input,
                np.asarray(images["images"][rows]),
                read_rows(cam_group["maps"], rows)[:, 0],
                np.asarray(segments[rows]),
                np.asarray(targets[rows])[:, 0],
                ids=image_ids(images, rows),
                keys={key: keys[key] for key in FAITHFULNESS_KEYS},
                settings=settings,
                seed=seed,
            )
            appender.append(frame)
    if not appender.written:
        raise ValueError(f"{images_store}: no images to score")


def score_localisation(
    *,
    images_store: PathLike,
    masks_store: PathLike,
    cam_stores: Mapping[str, PathLike],
    keys: Mapping[str, str],
    tolerance: float,
    device: str,
    out: PathLike,
    chunk_size: int = CHUNK_SIZE,
) -> None:
    """The localisation table of one (dataset, model, cam) over the conditions of ``cam_stores``
    (condition -> CAM store; ``clean`` first, then the noises in sorted order), ``chunk_size``
    images at a time (module docstring)."""

    from camrobust.devices import resolve_device

    on = resolve_device(device)
    images, masks = open_store(images_store), open_store(masks_store)["masks"]
    n = int(masks.shape[0])
    conditions = sorted(cam_stores, key=lambda name: (name != "clean", name))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with ParquetAppender(out) as appender:
        for condition in conditions:
            group = open_store(cam_stores[condition])
            severities = [int(s) for s in group["severity"][...]]
            for rows in image_chunks(n, chunk_size):
                frame = localisation_frame(
                    read_rows(group["maps"], rows),
                    np.asarray(masks[rows]),
                    ids=image_ids(images, rows),
                    condition=condition,
                    severities=severities,
                    keys={key: keys[key] for key in FAITHFULNESS_KEYS},
                    tolerance=tolerance,
                    device=on,
                )
                appender.append(frame)
    if not appender.written:
        raise ValueError(f"{masks_store}: no images to score")


# --- the aggregates --------------------------------------------------------------------------


def _tables(paths: Sequence[PathLike]) -> Iterator[pd.DataFrame]:
    for path in paths:
        yield pd.read_parquet(path)


def _clean_rows(paths: Sequence[PathLike]) -> Iterator[pd.DataFrame]:
    for table in _tables(paths):
        yield table[table["condition"] == "clean"]


def summarise_trust(
    *,
    scores: PathLike,
    faithfulness: Sequence[PathLike],
    localisation: Sequence[PathLike],
    randomisation: PathLike | None = None,
    n_boot: int,
    ci: float,
    min_n: int,
    seed: int,
    out: PathLike,
    noise_out: PathLike,
) -> None:
    """``trust.csv`` (:func:`camrobust.analysis.trust.trust_summary`) from the collected score
    file (the explanation attack's rows apart, as worst-case C), the per-image faithfulness and
    localisation tables, read one table (one (dataset, model, cam)) at a time, and the model
    randomisation summary where given; and the localisation under every noise at ``noise_out``."""
    from camrobust.analysis import trust

    settings: dict[str, Any] = {"n_boot": n_boot, "ci": ci, "min_n": min_n, "seed": seed}
    parts = list(_robustness_parts(scores, settings))
    if faithfulness:
        parts.append(trust.score_estimates(_tables(faithfulness), vocabulary.FAITHFULNESS, **settings))
    if localisation:
        parts.append(trust.score_estimates(_clean_rows(localisation), vocabulary.LOCALISATION, **settings))
    if randomisation is not None:
        cams = pd.concat([part["cam"] for part in parts], ignore_index=True)
        parts.append(trust.full_randomisation(pd.read_csv(randomisation), cams))
    trust.trust_summary(parts).to_csv(out, index=False)
    noise = (
        trust.localisation_under_noise(_tables(localisation), **settings)
        if localisation
        else pd.DataFrame(columns=list(trust.NOISE_KEYS))
    )
    noise.to_csv(noise_out, index=False)


def _robustness_parts(scores: PathLike, settings: Mapping[str, Any]) -> Iterator[pd.DataFrame]:
    """Pooled RM over every noise but the explanation attacks and, where the attack ran, worst-case
    C, per (dataset, model, cam) of the collected score file: one pass, one key in memory at a time."""
    from camrobust.analysis import trust
    from camrobust.io.tables import read_score_groups

    columns = ["noise", "image_id", "changed", vocabulary.RBO.name]
    pooled, worst_case = [], []
    for key, rows in read_score_groups(scores, trust.TRUST_KEYS, columns):
        attack = rows["noise"].isin(registry.EXPLANATION_ATTACKS).to_numpy()
        if not attack.all():
            pooled.append(trust.pooled_robustness([(key, rows[~attack].reset_index(drop=True))], **settings))
        if attack.any():
            worst_case.append(trust.worst_case_consistency([(key, rows[attack].reset_index(drop=True))], **settings))
    yield pd.concat(pooled, ignore_index=True) if pooled else trust.pooled_robustness([], **settings)
    if worst_case:
        yield pd.concat(worst_case, ignore_index=True)


def _experiment_tables(paths: Sequence[PathLike], clean: bool) -> Iterator[pd.DataFrame]:
    """The per-image tables of ``paths`` joined per (dataset, model): every CAM of one experiment."""
    tables = list(_clean_rows(paths) if clean else _tables(paths))
    if not tables:
        return
    frame = pd.concat(tables, ignore_index=True)
    for _, rows in frame.groupby(["dataset", "model"], sort=True):
        yield rows


def test_trust(
    *,
    faithfulness: Sequence[PathLike],
    localisation: Sequence[PathLike],
    alpha: float,
    n_boot: int,
    ci: float,
    min_n: int,
    seed: int,
    out: PathLike,
    pairs_out: PathLike,
) -> None:
    """Friedman and Nemenyi tests across the CAMs per score of the faithfulness and (clean)
    localisation tables (:func:`camrobust.analysis.trust.trust_tests`)."""
    from camrobust.analysis import trust

    settings: dict[str, Any] = {"alpha": alpha, "n_boot": n_boot, "ci": ci, "min_n": min_n, "seed": seed}
    found = [
        trust.trust_tests(_experiment_tables(faithfulness, clean=False), **settings),
        trust.trust_tests(_experiment_tables(localisation, clean=True), **settings),
    ]
    tests = pd.concat([tests for tests, _ in found], ignore_index=True)
    pairs = pd.concat([pairs for _, pairs in found], ignore_index=True)
    order = ["dataset", "model", "axis", "score"]
    tests.sort_values(order, kind="stable", ignore_index=True).to_csv(out, index=False)
    pairs.sort_values([*order, "a", "b"], kind="stable", ignore_index=True).to_csv(pairs_out, index=False)


def read_trust(path: PathLike) -> pd.DataFrame:
    """A trust table written by this module (empty strings read as "", not NaN)."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def plot_trust(*, summary: PathLike, out: PathLike, formats: Sequence[str] = ()) -> None:
    """The trust figure (:func:`camrobust.plots.trust.trust`) of ``trust.csv``."""
    from camrobust import plots

    with plots.also_saving(formats):
        plots.trust(read_trust(summary), path=Path(out))


def write_trust_page(*, summary: PathLike, tests: PathLike, figure: PathLike, alpha: float, out: PathLike) -> None:
    """The "Which CAM to trust" page (:func:`camrobust.pages.trust.trust_page`)."""
    from camrobust.pages.trust import trust_page

    page = trust_page(read_trust(summary), read_trust(tests), Path(figure), alpha=alpha)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(page)
