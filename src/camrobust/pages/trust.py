"""The "Which CAM to trust" page: the trust figure, a sentence per score naming the best CAM and
those not significantly different from it, and the trust summary's values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from camrobust import registry, vocabulary
from camrobust.analysis.tables import estimate
from camrobust.pages.html import document, escape, image, table


def _names(cams: str | float) -> list[str]:
    return [registry.cam_label(cam) for cam in str(cams).split()] if isinstance(cams, str) and cams else []


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def score_sentence(test: pd.Series, alpha: float) -> str:
    """One sentence on a Friedman / Nemenyi row of the trust tests: the best CAM on the score and
    those whose Nemenyi p-value against it is >= ``alpha``, or why no CAM is named."""
    score = next(s for axis in vocabulary.AXES for s in axis.scores if s.name == test["score"])
    head = f"<b>{escape(score.label)}</b> ({score.direction})"
    if not isinstance(test["best"], str) or not test["best"]:
        note = test["note"] if isinstance(test["note"], str) else ""
        return f"{head}: no test ({escape(note)})."
    best = registry.cam_label(test["best"])
    if not test["p"] < alpha:
        return (
            f"{head}: the CAMs do not differ significantly (Friedman p = {test['p']:.3g} ≥ {alpha:g}, "
            f"n = {test['n']} images); {escape(best)} has the best average rank."
        )
    close = _names(test["not_different"])
    tail = (
        f"; {escape(_listed(close))} {'is' if len(close) == 1 else 'are'} not significantly different from it"
        if close
        else "; every other CAM is significantly worse"
    )
    top = [test["best"], *str(test["not_different"]).split()]
    baselines = [registry.cam_label(c) for c in top if c in registry.BASELINE_CAMS]
    warn = f" — among them a baseline that explains nothing: {escape(_listed(baselines))}" if baselines else ""
    return (
        f"{head}: best {escape(best)} (Friedman p = {test['p']:.3g}, n = {test['n']} images){tail} "
        f"(Nemenyi p ≥ {alpha:g}){warn}."
    )


def robustness_sentence(rows: pd.DataFrame) -> str:
    """The sentence of the robustness axis: the CAM with the highest pooled RM (its tests are the
    per-noise CAM comparisons of the robustness statistics)."""
    rm = vocabulary.RM.name
    ranked = rows.dropna(subset=[rm]).sort_values([rm, "cam"], ascending=[False, True])
    if ranked.empty:
        return f"<b>{escape(vocabulary.RM.label)}</b>: no pooled RM."
    best = ranked.iloc[0]
    warn = " — a baseline that explains nothing, so RM alone does not earn trust here" if best["baseline"] else ""
    return (
        f"<b>{escape(vocabulary.RM.label)}</b> (pooled over noises, {vocabulary.RM.direction}): best "
        f"{escape(registry.cam_label(best['cam']))} at {estimate(best[rm], best[f'{rm}_lo'], best[f'{rm}_hi'])}{warn}; "
        "the per-noise comparisons are the robustness tests (cam_methods, cam_pairwise)."
    )


def trust_page(summary: pd.DataFrame, tests: pd.DataFrame, figure: Path, *, alpha: float) -> str:
    """The page of the trust summary (``trust.csv``), the trust tests (``statistics/trust.csv``)
    and the trust figure at ``figure``."""
    parts = [
        "<p>Each CAM on every axis of trust: robustness to noise (RM), faithfulness (does the model's "
        "prediction need what the map points at) and localisation (does the map point at the object, where "
        "the dataset has ground truth). The baseline maps explain nothing: a CAM that does not beat them on an "
        "axis earns no trust on it. Ranks are among the CAMs of one dataset and model, 1 = best in the score's "
        "own direction; Friedman and Nemenyi tests take the images as subjects.</p>",
        image(figure, "CAM x score ranks and values", width="min(100%, 60rem)"),
    ]
    scores = [score for axis in vocabulary.AXES for score in axis.scores if score.name in summary.columns]
    for (dataset, model), rows in summary.groupby(["dataset", "model"], sort=True):
        parts.append(f"<h2>{escape(dataset)} / {escape(model)}</h2>")
        chosen = tests[(tests["dataset"] == dataset) & (tests["model"] == model)]
        for axis in vocabulary.AXES:
            sentences = []
            if axis is vocabulary.ROBUSTNESS_AXIS and vocabulary.RM.name in rows.columns:
                sentences.append(robustness_sentence(rows))
            for score in axis.scores:  # in the vocabulary's order
                for _, test in chosen[chosen["score"] == score.name].iterrows():
                    sentences.append(score_sentence(test, alpha))
            if sentences:
                items = "".join(f"<li>{sentence}</li>" for sentence in sentences)
                parts.append(f"<h3>{escape(axis.label)}: {escape(axis.description)}?</h3><ul>{items}</ul>")
        shown = pd.DataFrame(
            {
                "CAM": [
                    registry.cam_label(c) + (" (baseline)" if b else "")
                    for c, b in zip(rows["cam"], rows["baseline"], strict=True)
                ]
            }
        )
        for score in scores:
            values = rows[score.name].to_numpy(float)
            if np.isnan(values).all():
                continue
            shown[score.label] = [
                f"{estimate(v, lo, hi)} #{rank:.0f}" if np.isfinite(v) else "n/a"
                for v, lo, hi, rank in zip(
                    values, rows[f"{score.name}_lo"], rows[f"{score.name}_hi"], rows[f"{score.name}_rank"], strict=True
                )
            ]
        parts.append(table(shown, numbers=tuple(shown.columns[1:])))
    return document("Which CAM to trust", "\n".join(parts))
