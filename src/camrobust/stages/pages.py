"""The report's pages (rules/pages.smk): the landing page, the drill-down pages and the
sensitivity page, written from the results with :mod:`camrobust.pages`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    scores: Mapping[str, PathLike],
    summary: PathLike,
    clean_store: PathLike,
    noisy_store: PathLike,
    segments_store: PathLike,
    clean_cams: Mapping[str, PathLike],
    noisy_cams: Mapping[str, PathLike],
    n_pairs: int,
    out: PathLike,
) -> None:
    """The drill-down pages of one (dataset, model, noise), ``<cam>.html`` in the folder ``out``
    for every CAM (cam -> score table, clean and noisy CAM store): the pairs of
    :func:`camrobust.analysis.examples.extreme_pairs`, reading the images, segments and maps of the
    chosen images only."""
    from camrobust.analysis.summary import read_summary

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    summary_table = read_summary(summary)
    clean = open_store(clean_store)
    images = _Images(
        clean=clean,
        noisy=open_condition(noisy_store),
        segments=open_store(segments_store)["segments"],
        position={image_id: index for index, image_id in enumerate(str(i) for i in clean["ids"][...])},
        class_names=[str(name) for name in clean.attrs["class_names"]],
    )
    for cam, path in scores.items():
        page = _drilldown(pd.read_parquet(path), summary_table, images, clean_cams[cam], noisy_cams[cam], n_pairs)
        (folder / f"{cam}.html").write_text(page)


@dataclass(frozen=True)
class _Images:
    """The stores a drill-down page reads its chosen images from."""

    clean: Any
    noisy: Any
    segments: Any
    position: dict[str, int]
    class_names: list[str]


def _drilldown(
    table: pd.DataFrame,
    summary: pd.DataFrame,
    images: _Images,
    clean_cams: PathLike,
    noisy_cams: PathLike,
    n_pairs: int,
) -> str:
    """The drill-down page of one score table (one dataset, model, noise and cam)."""
    from camrobust import plots
    from camrobust.analysis.examples import extreme_pairs
    from camrobust.pages.drilldown import drilldown_page
    from camrobust.pages.html import figure_jpeg
    from camrobust.plots.pair_overlays import TOP_REGIONS

    keys = {column: str(table[column].iloc[0]) for column in ("dataset", "model", "noise", "cam")}
    pairs = extreme_pairs(table, n_pairs)
    figures = {}
    for set_name, chosen in pairs.groupby("set", sort=False):
        rows = [images.position[str(image_id)] for image_id in chosen["image_id"]]
        columns = [images.noisy.severities.index(int(severity)) for severity in chosen["severity"]]
        picked = range(len(rows))
        figure = plots.pair_overlays_figure(
            read_rows(images.clean["images"], rows),
            images.noisy.read(rows)[picked, columns],
            pixel_maps(open_store(clean_cams), rows)[:, 0],
            pixel_maps(open_store(noisy_cams), rows)[picked, columns],
            read_rows(images.segments, rows),
            rbo=chosen["rbo"].tolist(),
            headers=[f"image {i}, severity {s}" for i, s in zip(chosen["image_id"], chosen["severity"])],
            clean_classes=[images.class_names[int(y)] for y in chosen["y_clean"]],
            noisy_classes=[images.class_names[int(y)] for y in chosen["y_noisy"]],
        )
        figures[str(set_name)] = figure_jpeg(figure)
    pooled = summary[
        (summary["severity"] == "all")
        & (summary["dataset"] == keys["dataset"])
        & (summary["model"] == keys["model"])
        & (summary["cam"] == keys["cam"])
        & (summary["noise"] == keys["noise"])
    ]
    return drilldown_page(
        **keys,
        pairs=pairs,
        figures=figures,
        class_names=images.class_names,
        pooled=pooled.iloc[0] if len(pooled) else None,
        top=TOP_REGIONS,
    )


def write_sensitivity_page(*, table: PathLike, figure: PathLike, main: str, out: PathLike) -> None:
    """The sensitivity page of ``results/summary/sensitivity.csv`` with its figure embedded."""
    from camrobust.pages.sensitivity import sensitivity_page

    page = sensitivity_page(pd.read_csv(table, keep_default_na=False, na_values=[""]), Path(figure), main=main)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(page)
