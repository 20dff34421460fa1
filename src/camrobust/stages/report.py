"""The report's figures (rules/report.smk): each reads stores or tables and draws with
:mod:`camrobust.plots` (imported where used: matplotlib only in the plotting jobs). ``formats``:
the vector formats (svg, pdf) written beside each figure (``report.formats``)."""

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


def formats_of(paths: Sequence[PathLike]) -> list[str]:
    """The formats of a rule's vector copies of its figures (their extensions: svg, pdf), once each."""
    return list(dict.fromkeys(Path(path).suffix.removeprefix(".") for path in paths))


def plot_summary(
    *,
    figure: str,
    summary: PathLike,
    out: PathLike,
    formats: Sequence[str] = (),
    table_out: PathLike | None = None,
    **keys: str,
) -> None:
    """A figure of the robustness summary: ``figure`` names the :mod:`camrobust.plots` function,
    called with the summary table and ``keys`` (the rule's wildcards, e.g. dataset and model);
    a figure that returns a table writes it as CSV at ``table_out``."""
    from camrobust import plots
    from camrobust.analysis.summary import read_summary

    with plots.also_saving(formats):
        drawn = getattr(plots, figure)(read_summary(summary), path=out, **keys)
    if table_out is not None:
        drawn.to_csv(table_out, index=False)


def plot_critical_difference(
    *,
    scores: PathLike,
    dataset: str,
    model: str,
    noise: str,
    alpha: float,
    out: Mapping[str, PathLike],
    formats: Sequence[str] = (),
) -> None:
    """Critical-difference diagrams of the CAM methods under one (dataset, model, noise), pooled
    over severities with images as subjects, one per set of pairs in ``out`` (preserving, changing
    -> path), Nemenyi at ``alpha``."""
    from camrobust import plots, vocabulary
    from camrobust.analysis import stats

    table = pd.read_parquet(
        scores,
        columns=list(stats.INPUT_COLUMNS),
        filters=[("dataset", "==", dataset), ("model", "==", model), ("noise", "==", noise)],
    )
    with plots.also_saving(formats):
        for set_name in vocabulary.SETS:
            ranking = stats.cam_ranking(
                table, dataset=dataset, model=model, noise=noise, set_name=set_name, alpha=alpha
            )
            title = plots.critical_difference_title(dataset, model, noise, set_name)
            plots.critical_difference(ranking, Path(out[set_name]), title)


def plot_ranking_agreement(
    *,
    scores: PathLike,
    n_boot: int,
    ci: float,
    seed: int,
    min_n: int,
    out: PathLike,
    table_out: PathLike,
    formats: Sequence[str] = (),
) -> pd.DataFrame:
    """The ranking agreement (:mod:`camrobust.analysis.agreement`) of the collected scores, read
    one score table at a time: its figure at ``out`` and its table as CSV at ``table_out``."""
    from camrobust import plots
    from camrobust.analysis.agreement import ranking_agreement

    table = ranking_agreement(scores, n_boot=n_boot, ci=ci, seed=seed, min_n=min_n)
    with plots.also_saving(formats):
        plots.ranking_agreement(table, Path(out))
    table.to_csv(table_out, index=False)
    return table


def plot_sensitivity(*, table: PathLike, out: PathLike, formats: Sequence[str] = ()) -> None:
    """The figure of the sensitivity table (``results/summary/sensitivity.csv``)."""
    from camrobust import plots

    with plots.also_saving(formats):
        plots.sensitivity(pd.read_csv(table, keep_default_na=True), Path(out))


def plot_cam_overlays(
    *,
    clean_store: PathLike,
    noisy_store: PathLike,
    segments_store: PathLike,
    score_tables: Mapping[str, PathLike],
    clean_cams: Mapping[str, PathLike],
    noisy_cams: Mapping[str, PathLike],
    n_images: int,
    title: str,
    out: PathLike,
    formats: Sequence[str] = (),
) -> list[str]:
    """Clean-vs-noisy CAM overlays of the images the drill-down choice picks by the mean r over
    the CAMs (:func:`camrobust.analysis.examples.overlay_images`), for every CAM method, each noisy
    cell with its r. Reads the score tables (cam -> path) and the images, segments and maps of the
    chosen images only; returns their ids."""
    from camrobust import plots
    from camrobust.analysis.examples import overlay_images

    scores = {cam: pd.read_parquet(path) for cam, path in score_tables.items()}
    chosen_ids = overlay_images(pd.concat(scores.values(), ignore_index=True), n_images)
    clean = open_store(clean_store)
    position = {image_id: index for index, image_id in enumerate(str(i) for i in clean["ids"][...])}
    chosen = [position[image_id] for image_id in chosen_ids]
    noisy = open_condition(noisy_store)
    rbo = {
        cam: table.pivot(index="image_id", columns="severity", values="rbo")
        .loc[chosen_ids, noisy.severities]
        .to_numpy()
        for cam, table in scores.items()
    }
    first = next(iter(scores.values())).drop_duplicates("image_id").set_index("image_id")
    noisy_pred = next(iter(scores.values())).pivot(index="image_id", columns="severity", values="y_noisy")
    with plots.also_saving(formats):
        plots.cam_overlays(
            read_rows(clean["images"], chosen),
            noisy.read(chosen),
            {cam: pixel_maps(open_store(path), chosen)[:, 0] for cam, path in clean_cams.items()},
            {cam: pixel_maps(open_store(path), chosen) for cam, path in noisy_cams.items()},
            noisy.severities,
            first.loc[chosen_ids, "y_clean"].to_numpy(),
            noisy_pred.loc[chosen_ids, noisy.severities].to_numpy(),
            list(clean.attrs["class_names"]),
            Path(out),
            title,
            segments=read_rows(open_store(segments_store)["segments"], chosen),
            image_ids=chosen_ids,
            rbo=rbo,
        )
    return chosen_ids


def plot_noise_examples(
    *, clean_store: PathLike, noisy_stores: Sequence[PathLike], dataset: str, out: PathLike, formats: Sequence[str] = ()
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
    with plots.also_saving(formats):
        plots.noise_examples(
            np.asarray(clean["images"][:1])[0], examples, f"{dataset}: image {clean['ids'][0]}", Path(out)
        )


def plot_region_counts(
    *, segment_stores: Mapping[str, PathLike], out: PathLike, formats: Sequence[str] = ()
) -> pd.DataFrame:
    """Distribution of segmentation regions per image, per dataset (dataset -> segments store);
    returns the figure's table of counts."""
    from camrobust import plots

    counts = {dataset: read_array(path, "n_regions") for dataset, path in segment_stores.items()}
    with plots.also_saving(formats):
        return plots.region_counts(counts, Path(out))


def write_model_card(*, card_path: PathLike, title: str, out: PathLike) -> None:
    """The report's page of a model card (:func:`camrobust.models.card_page`): warnings such as
    accuracy below chance first."""
    from camrobust import models

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(models.card_page(models.ModelCard.from_json(card_path), title))
