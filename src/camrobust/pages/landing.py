"""The report's landing page: the headline result of every (dataset, model) on the first page a
reader sees.

Snakemake shows the workflow description (the Snakefile's ``report:`` file, reStructuredText
rendered with Jinja and docutils) on the report's first page. The workflow writes that file from
the results: per (dataset, model) the verdict sentence of every noise
(:mod:`camrobust.analysis.verdicts`), the RM table with CIs and links to the figures and pages.
The HTML sits in a ``raw`` block inside a Jinja ``raw`` section, so neither Jinja nor docutils
touches it; a style rule widens Snakemake's narrow description column for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from camrobust import registry
from camrobust.analysis.tables import experiments, headline
from camrobust.pages.html import escape, report_link, table

#: Snakemake's description column is narrow (max-w-lg) beside the rule graph and centred
#: vertically: widen it, put the graph below it, and start at the top.
WIDEN = (
    "<style>div.prose:has(.camrobust-landing){max-width:80rem}"
    "div.gap-3.items-start:has(.camrobust-landing){flex-wrap:wrap}"
    "div.justify-center:has(.camrobust-landing){align-items:flex-start}"
    ".camrobust-landing table{font-size:.78rem;margin:.3rem 0 .8rem}"
    ".camrobust-landing td,.camrobust-landing th{padding:.15rem .5rem;border-bottom:1px solid #e0e0e0;"
    "text-align:left;white-space:nowrap}"
    ".camrobust-landing tr.best td{font-weight:600}"
    ".camrobust-landing .verdict{background:#f1f8e9;border-left:4px solid #7cb342;padding:.3rem .6rem;margin:.25rem 0}"
    ".camrobust-landing .verdict.undecided{background:#fff8e1;border-left-color:#ffb300}</style>"
)


@dataclass(frozen=True)
class Settings:
    """The settings the landing page states: RBO p, CI level, min_n, the practical threshold, alpha."""

    cams: Sequence[str]
    rbo_p: float
    ci: float
    min_n: int
    practical_difference: float
    alpha: float


@dataclass(frozen=True)
class Links:
    """Report items to link: per (dataset, model) its figures, per (dataset, model, noise) its
    figures and pages, and those of the whole run; each a (label, path) pair."""

    experiment: Mapping[tuple[str, ...], Sequence[tuple[str, str]]] = field(default_factory=dict)
    noise: Mapping[tuple[str, ...], Sequence[tuple[str, str]]] = field(default_factory=dict)
    run: Sequence[tuple[str, str]] = ()


def landing_rst(
    summary: pd.DataFrame,
    verdicts: pd.DataFrame,
    *,
    settings: Settings,
    links: Links,
    sensitivity: pd.DataFrame | None = None,
) -> str:
    """The landing page as reStructuredText (see the module docstring)."""
    body = [WIDEN, '<div class="camrobust-landing">', _introduction(settings)]
    rows = headline(summary)
    for dataset, model, part in experiments(rows):
        chosen = verdicts[(verdicts["dataset"] == dataset) & (verdicts["model"] == model)]
        body.append(_experiment(dataset, model, part, chosen, links, settings))
        if sensitivity is not None:
            body.append(
                _sensitivity(sensitivity[(sensitivity["dataset"] == dataset) & (sensitivity["model"] == model)])
            )
    if links.run:
        items = "".join(f"<li>{report_link(path, label)}</li>" for label, path in links.run)
        body.append(f"<h2>Across datasets and models</h2><ul>{items}</ul>")
    body.append("</div>")
    html_block = "\n".join("   " + line for line in "\n".join(body).splitlines())
    return (
        "camrobust: which CAM can you trust?\n"
        "===================================\n\n"
        "{% raw %}\n"
        ".. raw:: html\n\n"
        f"{html_block}\n\n"
        "{% endraw %}\n"
    )


def _introduction(settings: Settings) -> str:
    level = f"{round(100 * settings.ci)}%"
    cams = ", ".join(registry.cam_label(cam) for cam in settings.cams)
    return (
        f"<p>How robust the CAMs of {escape(cams)} are to input noise. Each clean image is segmented into "
        "regions; the regions are ranked by mean CAM value on the clean and on the noisy image and the "
        f"rankings compared with rank-biased overlap r (RBO, p = {settings.rbo_p:g}). "
        "<b>Consistency</b> C = mean r over class-preserving pairs (the prediction stayed), "
        "<b>responsiveness</b> R = mean 1 &minus; r over class-changing pairs (it changed), "
        f"<b>RM</b> = C &times; R; higher is better. Intervals: {level} percentile bootstrap over images; "
        f"a set of fewer than {settings.min_n} images gets no interval (no CI).</p>"
        f"<p>A verdict names the best CAM method under a noise only where its pooled RM exceeds every other's "
        f"by more than {settings.practical_difference:g} (the stated practical threshold) and the paired "
        f"bootstrap {level} CI of each difference excludes 0. Statistical tests (images as subjects, Holm within "
        f"each family, &alpha; = {settings.alpha:g}) are in the category Statistical tests.</p>"
    )


def _experiment(
    dataset: str, model: str, rows: pd.DataFrame, verdicts: pd.DataFrame, links: Links, settings: Settings
) -> str:
    parts = [f"<h2>{escape(dataset)} / {escape(model)}</h2>"]
    for _, verdict in verdicts.sort_values("noise").iterrows():
        css = "verdict" if bool(verdict["decided"]) else "verdict undecided"
        label = registry.noise_label(str(verdict["noise"]))
        parts.append(f'<div class="{css}"><b>{escape(label)}</b>: {escape(verdict["verdict"])}</div>')
    best = {(str(v["noise"]), str(v["best"])) for _, v in verdicts.iterrows() if bool(v["decided"])}
    shown = rows.assign(
        noise=[registry.noise_label(str(noise)) for noise in rows["noise"]],
        cam=[registry.cam_label(str(cam)) for cam in rows["cam"]],
    )
    classes = ["best" if (str(n), str(c)) in best else "" for n, c in zip(rows["noise"], rows["cam"])]
    level = f"{round(100 * settings.ci)}% CI"
    header = {
        "noise": "noise",
        "cam": "CAM method",
        "C": f"C [{level}]",
        "R": f"R [{level}]",
        "RM": f"RM [{level}]",
        "images": "images (preserving / changing)",
        "note": "note",
    }
    parts.append(table(shown, header=header, numbers=("C", "R", "RM", "images"), row_classes=classes))
    figure_links = [report_link(path, label) for label, path in links.experiment.get((dataset, model), ())]
    if figure_links:
        parts.append(f"<p>Figures: {' &middot; '.join(figure_links)}</p>")
    noises = sorted({noise for (d, m, noise) in links.noise if (d, m) == (dataset, model)})
    for noise in noises:
        items = [report_link(path, label) for label, path in links.noise[(dataset, model, noise)]]
        parts.append(f"<p>{escape(registry.noise_label(noise))}: {' &middot; '.join(items)}</p>")
    return "\n".join(parts)


def _sensitivity(rows: pd.DataFrame) -> str:
    overall = rows[rows["noise"] == "all"]
    if overall.empty:
        return ""
    items = []
    for _, row in overall.iterrows():
        tau = f"τ = {row['tau']:.2f}" + (
            f" [{row['tau_lo']:.2f}, {row['tau_hi']:.2f}]" if pd.notna(row["tau_lo"]) else " (no CI)"
        )
        same = (
            "same best CAM" if bool(row["same_best"]) else f"best CAM changes to {registry.cam_label(str(row['best']))}"
        )
        items.append(f"<li>{escape(row['setting'])}: {escape(tau)}, {escape(same)}</li>")
    return (
        "<p>Sensitivity to the metric's settings (CAM ranking over all noises vs the main setting's):</p>"
        f"<ul>{''.join(items)}</ul>"
    )
