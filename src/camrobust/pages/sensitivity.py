"""The sensitivity page: does the CAM ranking by RM change with the metric's own settings (RBO p,
the segmentation)? The figure and the table of :mod:`camrobust.analysis.sensitivity`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from camrobust import registry
from camrobust.analysis.tables import estimate
from camrobust.pages.html import document, escape, image, table


def sensitivity_page(results: pd.DataFrame, figure: Path, *, main: str) -> str:
    """The page of ``results`` (:data:`camrobust.analysis.sensitivity.SENSITIVITY_COLUMNS`) with the
    sensitivity figure at ``figure``; ``main`` describes the main setting ("rbo_p=0.9, quickshift")."""
    parts = [
        "<p>RM recomputed on the same cached CAM pairs under other settings of the metric itself; only the "
        f"segments and RBO are redone. Main setting: {escape(main)}. Kendall's τ compares each setting's CAM "
        "ranking (by pooled RM; for <i>all</i>, by the mean over noises) with the main one: 1 = the same order. "
        "The interval is a bootstrap over images, the same draws for both settings. The best CAM may change "
        "between methods whose RMs the verdicts do not tell apart; τ and its interval say how much the order "
        "as a whole moves.</p>",
        image(figure, "Kendall tau of each setting's CAM ranking with the main one", width="min(100%, 60rem)"),
    ]
    for (dataset, model), rows in results.groupby(["dataset", "model"], sort=True):
        shown = pd.DataFrame(
            {
                "noise": [
                    registry.noise_label(str(noise)) if noise != "all" else "all noises" for noise in rows["noise"]
                ],
                "setting": rows["setting"],
                "tau": [estimate(t, lo, hi) for t, lo, hi in zip(rows["tau"], rows["tau_lo"], rows["tau_hi"])],
                "best": [
                    f"{registry.cam_label(str(main_best))} → {registry.cam_label(str(best))}"
                    if not same
                    else f"{registry.cam_label(str(best))} (same)"
                    for main_best, best, same in zip(rows["best_main"], rows["best"], rows["same_best"])
                ],
                "ranking": rows["ranking"],
                "note": [note if isinstance(note, str) else "" for note in rows["note"]],
            }
        )
        parts.append(f"<h2>{escape(dataset)} / {escape(model)}</h2>")
        parts.append(
            table(
                shown,
                header={
                    "noise": "noise",
                    "setting": "setting",
                    "tau": "Kendall τ [CI]",
                    "best": "best CAM (main → setting)",
                    "ranking": "ranking under the setting (RM)",
                    "note": "note",
                },
                numbers=("tau",),
            )
        )
    return document("Sensitivity of the CAM ranking to the metric's settings", "\n".join(parts))
