"""Critical-difference diagrams of the CAM methods for one (dataset, model, noise), both sets."""

import pandas as pd

from camrobust import plots, stats, vocabulary
from camrobust.logs import job_log
from camrobust.plots.style import noise_label

with job_log(snakemake.log[0], snakemake.threads):
    w = snakemake.wildcards
    scores = pd.read_parquet(
        snakemake.input[0],
        columns=list(stats.SCORE_COLUMNS),
        filters=[("dataset", "==", w.dataset), ("model", "==", w.model), ("noise", "==", w.noise)],
    )
    for set_name, pairs in vocabulary.SETS.items():
        ranks, pvalues = stats.nemenyi_ranks(scores, dataset=w.dataset, model=w.model, noise=w.noise, set_name=set_name)
        score = vocabulary.SET_SCORES[set_name].label
        title = f"{w.dataset} / {w.model}: {noise_label(w.noise)}, {score} ({pairs})"
        plots.critical_difference(ranks, pvalues, snakemake.output[set_name], title, alpha=snakemake.params.alpha)
