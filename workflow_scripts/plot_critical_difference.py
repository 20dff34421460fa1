"""Critical-difference diagrams of the CAM methods for one (dataset, model, noise), both sets."""

import pandas as pd

from camrobust import plots, stats
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    w = snakemake.wildcards
    scores = pd.read_parquet(
        snakemake.input[0],
        columns=list(stats.SCORE_COLUMNS),
        filters=[("dataset", "==", w.dataset), ("model", "==", w.model), ("noise", "==", w.noise)],
    )
    for set_name, measure in stats.SET_MEASURES.items():
        ranks, pvalues = stats.nemenyi_ranks(scores, dataset=w.dataset, model=w.model, noise=w.noise, set_name=set_name)
        title = f"{w.dataset} / {w.model}: {w.noise}, {measure}"
        plots.cd_diagram(ranks, pvalues, snakemake.output[set_name], title, alpha=snakemake.params.alpha)
