"""The report's pages (rules/pages.smk): the landing page, the drill-down pages and the
sensitivity page, written from the results with :mod:`camrobust.pages`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from camrobust.core.conditions import read_rows
from camrobust.io.images import open_condition
from camrobust.io.maps import pixel_maps
from camrobust.io.store import open_store

PathLike = str | os.PathLike[str]


def write_landing(
    *,
    summary: PathLike,
    verdicts: PathLike,
    settings: Mapping[str, Any],
    links: Mapping[str, Sequence[Sequence[str]]],
    out: PathLike,
    sensitivity: PathLike | None = None,
) -> None:
    """The landing page's reStructuredText (:mod:`camrobust.pages.landing`). ``settings``: cams,
    rbo_p, ci, min_n, practical_difference, alpha; ``links``: ``experiment`` rows (dataset, model,
    label, path), ``noise`` rows (dataset, model, noise, label, path) and ``run`` rows (label, path)."""
    from camrobust.analysis.summary import read_summary
    from camrobust.pages import landing

    grouped = landing.Links(
        experiment=_grouped(links.get("experiment", ()), 2),
        noise=_grouped(links.get("noise", ()), 3),
        run=[(label, path) for label, path in links.get("run", ())],
    )
    text = landing.landing_rst(
        read_summary(summary),
        pd.read_csv(verdicts, keep_default_na=False, na_values=[""]),
        settings=landing.Settings(**settings),
        links=grouped,
        sensitivity=pd.read_csv(sensitivity) if sensitivity is not None else None,
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text)


def _grouped(rows: Sequence[Sequence[str]], width: int) -> dict[tuple[str, ...], list[tuple[str, str]]]:
    """Link rows grouped by their first ``width`` fields: key -> [(label, path)]."""
    grouped: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    for row in rows:
        grouped.setdefault(tuple(row[:width]), []).append((row[width], row[width + 1]))
    return grouped


def write_drilldown(
    *,
    scores: PathLike,
    summary: PathLike,
    clean_store: PathLike,
    noisy_store: PathLike,
    segments_store: PathLike,
    clean_cams: PathLike,
    noisy_cams: PathLike,
    n_pairs: int,
    out: PathLike,
) -> None:
    """The drill-down page of one score table (one dataset, model, noise and cam): its
    :func:`camrobust.analysis.examples.extreme_pairs`, reading the images, segments and maps of
    the chosen images only."""
    from camrobust import plots
    from camrobust.analysis.examples import extreme_pairs
    from camrobust.analysis.summary import read_summary
    from camrobust.pages.drilldown import drilldown_page
    from camrobust.pages.html import figure_png
    from camrobust.plots.pair_overlays import TOP_REGIONS

    table = pd.read_parquet(scores)
    keys = {column: str(table[column].iloc[0]) for column in ("dataset", "model", "noise", "cam")}
    pairs = extreme_pairs(table, n_pairs)
    clean = open_store(clean_store)
    noisy = open_condition(noisy_store)
    position = {image_id: index for index, image_id in enumerate(str(i) for i in clean["ids"][...])}
    class_names = [str(name) for name in clean.attrs["class_names"]]
    figures = {}
    for set_name, chosen in pairs.groupby("set", sort=False):
        rows = [position[str(image_id)] for image_id in chosen["image_id"]]
        columns = [noisy.severities.index(int(severity)) for severity in chosen["severity"]]
        picked = range(len(rows))
        noisy_images = noisy.read(rows)[picked, columns]
        noisy_maps = pixel_maps(open_store(noisy_cams), rows)[picked, columns]
        figure = plots.pair_overlays_figure(
            read_rows(clean["images"], rows),
            noisy_images,
            pixel_maps(open_store(clean_cams), rows)[:, 0],
            noisy_maps,
            read_rows(open_store(segments_store)["segments"], rows),
            rbo=chosen["rbo"].tolist(),
            headers=[f"image {i}, severity {s}" for i, s in zip(chosen["image_id"], chosen["severity"])],
            clean_classes=[class_names[int(y)] for y in chosen["y_clean"]],
            noisy_classes=[class_names[int(y)] for y in chosen["y_noisy"]],
        )
        figures[str(set_name)] = figure_png(figure)
    summary_table = read_summary(summary)
    pooled = summary_table[
        (summary_table["severity"] == "all")
        & (summary_table["dataset"] == keys["dataset"])
        & (summary_table["model"] == keys["model"])
        & (summary_table["cam"] == keys["cam"])
        & (summary_table["noise"] == keys["noise"])
    ]
    page = drilldown_page(
        **keys,
        pairs=pairs,
        figures=figures,
        class_names=class_names,
        pooled=pooled.iloc[0] if len(pooled) else None,
        top=TOP_REGIONS,
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(page)


def write_sensitivity_page(*, table: PathLike, figure: PathLike, main: str, out: PathLike) -> None:
    """The sensitivity page of ``results/summary/sensitivity.csv`` with its figure embedded."""
    from camrobust.pages.sensitivity import sensitivity_page

    page = sensitivity_page(pd.read_csv(table, keep_default_na=False, na_values=[""]), Path(figure), main=main)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(page)
