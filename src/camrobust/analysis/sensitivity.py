"""How much do the conclusions depend on the metric's own settings?

RM is recomputed on the same cached CAM pairs under other settings of the metric (``metric.
sensitivity``): another RBO persistence p (on the main segmentation), or another segmentation
method (at the main p). Per (dataset, model) and noise, and over all noises (``noise == "all"``:
each CAM's mean pooled RM over the noises), Kendall's tau-b compares the CAM ranking under each
setting with the main one, with a paired bootstrap CI over images
(:mod:`camrobust.analysis.rankings`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from camrobust import registry, vocabulary
from camrobust.analysis.rankings import Similarity, collect_totals, compare, ranking_text
from camrobust.analysis.settings import Setting

MAIN = "main"
"""The variant of the main results (``metric.rbo_p`` on each dataset's own segmentation)."""
ALL_NOISES = "all"
SENSITIVITY_COLUMNS: tuple[str, ...] = (
    "dataset",
    "model",
    "noise",
    "setting",
    "parameter",
    "value",
    "n_images",
    "tau",
    "tau_lo",
    "tau_hi",
    "best_main",
    "best",
    "same_best",
    "ranking_main",
    "ranking",
    "note",
)
"""One row per (dataset, model, noise or "all", setting): tau of the setting's CAM ranking with the
main one and its CI, the best CAM under each, and both rankings with the RMs ('A 0.49 > B 0.46')."""


def sensitivity_rows(
    tables: Iterable[pd.DataFrame],
    chosen: Sequence[Setting],
    *,
    n_boot: int,
    ci: float,
    min_n: int,
    seed: int,
) -> pd.DataFrame:
    """The rows (:data:`SENSITIVITY_COLUMNS`) of one (dataset, model) from its (noise, cam) tables,
    each holding per (severity, image_id) ``changed``, the main ``rbo`` and one RBO column per
    setting, named by :attr:`Setting.name`."""
    tables = list(tables)
    dataset, model = (str(tables[0][column].iloc[0]) for column in ("dataset", "model"))
    variants = {MAIN: _column(vocabulary.RBO.name), **{setting.name: _column(setting.name) for setting in chosen}}
    totals = collect_totals(tables, variants)
    rows = []
    for noise in [*totals.noises, ALL_NOISES]:
        part = totals if noise == ALL_NOISES else totals.restricted(noise)
        seed_key = (seed, "sensitivity", dataset, model, noise)
        result = compare(part, reference=MAIN, n_boot=n_boot, ci=ci, min_n=min_n, seed_key=seed_key)
        taus = result.tau.set_index("variant")
        main_scores = result.rm[MAIN]
        for setting in chosen:
            scores = result.rm[setting.name]
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "noise": noise,
                    "setting": setting.name,
                    "parameter": setting.parameter,
                    "value": str(setting.value),
                    "n_images": result.n_images,
                    "tau": taus.loc[setting.name, "tau"],
                    "tau_lo": taus.loc[setting.name, "tau_lo"],
                    "tau_hi": taus.loc[setting.name, "tau_hi"],
                    "best_main": _best(main_scores),
                    "best": _best(scores),
                    "same_best": _best(main_scores) == _best(scores),
                    "ranking_main": ranking_text(main_scores, registry.cam_label),
                    "ranking": ranking_text(scores, registry.cam_label),
                    "note": taus.loc[setting.name, "note"],
                }
            )
    return pd.DataFrame(rows, columns=list(SENSITIVITY_COLUMNS))


def _column(name: str) -> Similarity:
    return lambda rows: rows[name].to_numpy(float)


def _best(scores: pd.Series) -> str:
    finite = scores.dropna()
    return str(finite.idxmax()) if len(finite) else ""
