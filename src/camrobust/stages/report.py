"""The report's figures and pages (rules/report.smk): each reads stores or tables and draws with
:mod:`camrobust.plots` (imported where used: matplotlib only in the plotting jobs)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from camrobust.core.conditions import read_rows
from camrobust.io.images import open_condition
from camrobust.io.maps import pixel_maps
from camrobust.io.store import open_store, read_array

PathLike = str | os.PathLike[str]


def plot_summary(
    *, figure: str, summary: PathLike, out: PathLike, table_out: PathLike | None = None, **keys: str
) -> None:
    """A figure of the robustness summary: ``figure`` names the :mod:`camrobust.plots` function,
    called with the summary table and ``keys`` (the rule's wildcards, e.g. dataset and model);
    a figure that returns a table writes it as CSV at ``table_out``."""
    from camrobust import plots

    table = pd.read_csv(summary, keep_default_na=True, dtype={"severity": str, "reason": str})
    table["reason"] = table["reason"].fillna("")
    drawn = getattr(plots, figure)(table, path=out, **keys)
    if table_out is not None:
        drawn.to_csv(table_out, index=False)


def plot_critical_difference(
    *, scores: PathLike, dataset: str, model: str, noise: str, alpha: float, out: Mapping[str, PathLike]
) -> None:
    """Critical-difference diagrams of the CAM methods under one (dataset, model, noise), one per
    set of pairs in ``out`` (preserving, changing -> path), Nemenyi at ``alpha``."""
    from camrobust import plots, vocabulary
    from camrobust.analysis import stats

    table = pd.read_parquet(
        scores,
        columns=list(stats.INPUT_COLUMNS),
        filters=[("dataset", "==", dataset), ("model", "==", model), ("noise", "==", noise)],
    )
    for set_name in vocabulary.SETS:
        ranks, pvalues = stats.nemenyi_ranks(table, dataset=dataset, model=model, noise=noise, set_name=set_name)
        title = plots.critical_difference_title(dataset, model, noise, set_name)
        plots.critical_difference(ranks, pvalues, Path(out[set_name]), title, alpha=alpha)


def overlay_selection(changed_at_worst: np.ndarray, k: int) -> np.ndarray:
    """Indices of up to ``k`` images: half whose prediction the strongest noise changed, half not."""
    changed = np.flatnonzero(changed_at_worst)
    kept = np.flatnonzero(~changed_at_worst)
    n_changed = min(len(changed), max(k // 2, k - len(kept)))
    chosen = np.concatenate([changed[:n_changed], kept[: k - n_changed]])
    return np.sort(chosen)


def plot_cam_overlays(
    *,
    clean_store: PathLike,
    noisy_store: PathLike,
    segments_store: PathLike,
    clean_predictions: PathLike,
    noisy_predictions: PathLike,
    clean_cams: Mapping[str, PathLike],
    noisy_cams: Mapping[str, PathLike],
    n_images: int,
    title: str,
    out: PathLike,
) -> None:
    """Clean-vs-noisy CAM overlays of a few images, for every CAM method of the config.

    Reads the predictions of every image (to choose) and the images, segments and maps of the
    chosen images only."""
    from camrobust import plots

    clean = open_store(clean_store)
    noisy = open_condition(noisy_store)
    y_clean = read_array(clean_predictions, "pred")[:, 0]
    y_noisy = read_array(noisy_predictions, "pred")
    chosen = overlay_selection(y_noisy[:, -1] != y_clean, n_images).tolist()
    plots.cam_overlays(
        read_rows(clean["images"], chosen),
        noisy.read(chosen),
        {cam: pixel_maps(open_store(path), chosen)[:, 0] for cam, path in clean_cams.items()},
        {cam: pixel_maps(open_store(path), chosen) for cam, path in noisy_cams.items()},
        noisy.severities,
        y_clean[chosen],
        y_noisy[chosen],
        list(clean.attrs["class_names"]),
        Path(out),
        title,
        segments=read_rows(open_store(segments_store)["segments"], chosen),
        image_ids=[str(clean["ids"][i]) for i in chosen],
    )


def plot_noise_examples(
    *, clean_store: PathLike, noisy_stores: Sequence[PathLike], dataset: str, out: PathLike
) -> None:
    """The first image of a dataset, clean and under every model-free noise of the run, as stored."""
    from camrobust import plots

    clean = open_store(clean_store)
    examples = {}
    for path in noisy_stores:
        store = open_store(path)
        severities = [int(s) for s in store["severity"][...]]
        first = np.asarray(store["images"][:1])[0]  # (severity, H, W, 3)
        examples[str(store.attrs["noise"])] = dict(zip(severities, first))
    plots.noise_examples(np.asarray(clean["images"][:1])[0], examples, f"{dataset}: image {clean['ids'][0]}", Path(out))


def plot_region_counts(*, segment_stores: Mapping[str, PathLike], out: PathLike) -> pd.DataFrame:
    """Distribution of segmentation regions per image, per dataset (dataset -> segments store);
    returns the figure's table of counts."""
    from camrobust import plots

    counts = {dataset: read_array(path, "n_regions") for dataset, path in segment_stores.items()}
    return plots.region_counts(counts, Path(out))


def write_model_card(*, card_path: PathLike, title: str, out: PathLike) -> None:
    """The report's page of a model card (:func:`camrobust.models.card_page`): warnings such as
    accuracy below chance first."""
    from camrobust import models

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(models.card_page(models.ModelCard.from_json(card_path), title))
