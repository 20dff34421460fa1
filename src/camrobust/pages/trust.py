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


def estimate_sentence(rows: pd.DataFrame, score: vocabulary.Score, context: str) -> str:
    """The sentence of a score without a rank test here: the CAM with the best estimate in the
    score's direction, with its CI, and a warning where that CAM is a baseline map."""
    name = score.name
    ranked = rows.dropna(subset=[name]).sort_values([name, "cam"], ascending=[not score.higher_is_better, True])
    if ranked.empty:
        return f"<b>{escape(score.label)}</b>: no estimate."
    best = ranked.iloc[0]
    warn = " — a baseline that explains nothing, so this score alone earns no trust" if best["baseline"] else ""
    return (
        f"<b>{escape(score.label)}</b> ({context}{score.direction}): best "
        f"{escape(registry.cam_label(best['cam']))} at {estimate(best[name], best[f'{name}_lo'], best[f'{name}_hi'])}"
        f"{warn}."
    )


AXIS_CONTEXT: dict[str, str] = {
    vocabulary.ROBUSTNESS_AXIS.name: "pooled over noises; the per-noise comparisons are the robustness tests; ",
    vocabulary.MODEL_DEPENDENCE_AXIS.name: "at full randomisation; the baselines score 1 by construction; ",
    vocabulary.WORST_CASE_AXIS.name: "over every budget of the explanation attack; ",
}
"""What an estimate sentence says about the axes whose scores have no rank test on this page."""


def trust_page(summary: pd.DataFrame, tests: pd.DataFrame, figure: Path, *, alpha: float) -> str:
    """The page of the trust summary (``trust.csv``), the trust tests (``statistics/trust.csv``)
    and the trust figure at ``figure``."""
    parts = [
        "<p>Each CAM on every axis of trust: robustness to noise (RM), faithfulness (does the model's "
        "prediction need what the map points at), localisation (does the map point at the object, where "
        "the dataset has ground truth), and where they ran, model dependence (does the map change when the "
        "model's weights are redrawn) and the worst case (consistency under an attack that keeps the class). The baseline maps explain nothing: a CAM that does not beat them on an "
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
            if axis.name in AXIS_CONTEXT:
                sentences += [
                    estimate_sentence(rows, score, AXIS_CONTEXT[axis.name])
                    for score in axis.scores[:1]
                    if score.name in rows.columns and rows[score.name].notna().any()
                ]
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
